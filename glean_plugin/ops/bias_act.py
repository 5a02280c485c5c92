"""Bias + leaky ReLU + gain, StyleGAN2's fused activation, in plain PyTorch.

``bias_leaky_relu`` is the activation alone; ``noise_bias_leaky_relu`` is the
whole tail of a StyleGAN2 styled convolution (noise injection, bias,
activation, gain). Its ``'reference'`` implementation spells the formula out
with one autograd op per term and is the specification; the ``'fast'`` one
gives the same values with one output buffer (or none, in place) and a
hand-written backward that keeps only the output for autograd. That backward
is written with differentiable torch ops, so double backward (R1 penalty,
path-length regularisation) is exact: the activation is piecewise linear,
its second derivative is zero, and the backward is linear in the incoming
gradient with a mask read from the output's sign.
"""
import math
from typing import Optional, Union

import torch
import torch.nn.functional as F

__all__ = ['bias_leaky_relu', 'noise_bias_leaky_relu',
           'DEFAULT_NEGATIVE_SLOPE', 'DEFAULT_GAIN', 'EPILOGUE_IMPLS']

# StyleGAN2's leaky ReLU slope and the gain that keeps activations' variance
# (sqrt(2), the He-init gain; the (1 + slope^2) factor is ignored as in the
# official code).
DEFAULT_NEGATIVE_SLOPE = 0.2
DEFAULT_GAIN = math.sqrt(2.0)
EPILOGUE_IMPLS = ('fast', 'reference')


def bias_leaky_relu(x: torch.Tensor,
                    bias: Optional[torch.Tensor] = None,
                    negative_slope: float = DEFAULT_NEGATIVE_SLOPE,
                    gain: float = DEFAULT_GAIN) -> torch.Tensor:
    """Add a per-channel bias, apply leaky ReLU, multiply by ``gain``.

    Args:
        x (Tensor): (N, C, ...) input.
        bias (Tensor, optional): (C,) bias, added along dim 1.
        negative_slope (float): Leaky ReLU slope. Default: 0.2.
        gain (float): Output scale. Default: sqrt(2).

    Returns:
        Tensor: same shape as ``x``.
    """
    if bias is not None:
        _check_bias(bias, x)
        x = x + bias.to(x.dtype).view([1, -1] + [1] * (x.ndim - 2))
    x = F.leaky_relu(x, negative_slope)
    if gain != 1:
        x = x * gain
    return x


def _check_bias(bias: torch.Tensor, x: torch.Tensor) -> None:
    if bias.ndim != 1 or bias.shape[0] != x.shape[1]:
        raise ValueError(
            f'bias must have shape ({x.shape[1]},) for an input with '
            f'{x.shape[1]} channels, got {tuple(bias.shape)}')


def _check_epilogue_args(x, noise, noise_weight, bias, impl) -> None:
    if impl not in EPILOGUE_IMPLS:
        raise ValueError(f'impl must be one of {EPILOGUE_IMPLS}, got {impl!r}')
    if x.ndim != 4:
        raise ValueError(f'x must be (N, C, H, W), got shape {tuple(x.shape)}')
    n, _, h, w = x.shape
    if noise is not None:
        if noise.ndim != 4 or noise.shape[1] != 1 or noise.shape[0] not in (
                1, n) or tuple(noise.shape[2:]) != (h, w):
            raise ValueError(f'noise must have shape (1 or {n}, 1, {h}, {w}), '
                             f'got {tuple(noise.shape)}')
        if noise_weight is None:
            raise ValueError('noise needs a noise_weight')
    if isinstance(noise_weight, torch.Tensor) and noise_weight.numel() != 1:
        raise ValueError('noise_weight must be a number or a one-element '
                         f'tensor, got shape {tuple(noise_weight.shape)}')
    if bias is not None:
        _check_bias(bias, x)


def _reference_epilogue(x, noise, noise_weight, bias, negative_slope, gain):
    if noise is not None:
        x = x + noise_weight * noise.to(x.dtype)
    return bias_leaky_relu(x, bias, negative_slope, gain)


def _as_tensor(value: Union[float, torch.Tensor],
               like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def _epilogue_into(out, x, noise, noise_weight, bias, negative_slope, gain):
    """The fast forward, written into ``out`` (which may be ``x``).

    ``gain`` (> 0) is applied before the activation,
    leaky_relu(z) * g == leaky_relu(z * g): three passes over the data.
    """
    dtype = x.dtype
    if bias is None:
        torch.mul(x, gain, out=out)
    else:
        torch.add((bias.to(dtype) * gain)[None, :, None, None], x,
                  alpha=gain, out=out)
    if noise is not None:
        nw = (_as_tensor(noise_weight, out) * gain).reshape(1, 1, 1, 1)
        out.addcmul_(noise.to(dtype), nw)
    return F.leaky_relu_(out, negative_slope)


class _NoiseBiasLeakyReLU(torch.autograd.Function):
    """The fast epilogue under autograd: saves only its output.

    The backward uses differentiable ops only (no ``once_differentiable``):
    with ``create_graph=True`` autograd records it, and its own gradient
    w.r.t. the incoming gradient, the noise, the noise weight and the bias
    is exact; w.r.t. the saved output it is zero, as the true second
    derivative of a leaky ReLU (away from its kink), so the output is read
    detached.
    """

    @staticmethod
    def forward(ctx, x, noise, noise_weight, bias, negative_slope, gain):
        out = _epilogue_into(torch.empty_like(x), x, noise, noise_weight,
                             bias, negative_slope, gain)
        nw_tensor = noise_weight if isinstance(noise_weight,
                                               torch.Tensor) else None
        ctx.save_for_backward(out, noise, nw_tensor)
        ctx.noise_weight = noise_weight
        ctx.negative_slope = negative_slope
        ctx.gain = gain
        ctx.bias_dtype = None if bias is None else bias.dtype
        return out

    @staticmethod
    def backward(ctx, grad_out):
        out, noise, nw_tensor = ctx.saved_tensors
        need = ctx.needs_input_grad
        # d out / d(pre-activation) from the sign of the output (gain > 0,
        # slope >= 0), times gain: one pass. Differentiable in grad_out
        # (autograd's formula for leaky_relu_backward), so recorded under
        # create_graph; without it autograd runs this in no-grad mode. The
        # mask's own derivative is zero: reading it from the detached output
        # is exact and sends no zero gradient back through this node.
        grad = torch.ops.aten.leaky_relu_backward(
            grad_out, out.detach(), ctx.negative_slope, True).mul_(ctx.gain)
        grad_noise = grad_nw = grad_bias = None
        if need[3]:
            grad_bias = grad.sum(dim=(0, 2, 3)).to(ctx.bias_dtype)
        if need[2]:
            grad_nw = (grad * noise.to(grad.dtype)).sum().reshape(
                nw_tensor.shape).to(nw_tensor.dtype)
        if need[1]:
            noise_weight = (nw_tensor if nw_tensor is not None else
                            ctx.noise_weight)
            grad_noise = grad.sum(dim=1, keepdim=True) * _as_tensor(
                noise_weight, grad)
            if noise.shape[0] == 1:
                grad_noise = grad_noise.sum(dim=0, keepdim=True)
            grad_noise = grad_noise.to(noise.dtype)
        return (grad if need[0] else None, grad_noise, grad_nw, grad_bias,
                None, None)


def noise_bias_leaky_relu(
        x: torch.Tensor,
        noise: Optional[torch.Tensor] = None,
        noise_weight: Optional[Union[float, torch.Tensor]] = None,
        bias: Optional[torch.Tensor] = None,
        negative_slope: float = DEFAULT_NEGATIVE_SLOPE,
        gain: float = DEFAULT_GAIN,
        impl: str = 'fast',
        inplace: bool = False) -> torch.Tensor:
    """``leaky_relu(x + noise_weight * noise + bias) * gain``.

    The tail of a StyleGAN2 styled convolution (noise injection, bias,
    activation, gain) in one call; noise and bias are optional.

    Args:
        x (Tensor): (N, C, H, W) convolution output.
        noise (Tensor, optional): (1 or N, 1, H, W) noise. Default: None.
        noise_weight (float | Tensor, optional): scalar or one-element
            tensor multiplying ``noise``; required with ``noise``.
        bias (Tensor, optional): (C,) bias. Default: None.
        negative_slope (float): Leaky ReLU slope, >= 0. Default: 0.2.
        gain (float): Output scale, > 0. Default: sqrt(2).
        impl (str): 'fast' (default) or 'reference' (one autograd op per
            term, the specification); equal results up to rounding. Under
            autograd 'fast' keeps only its output for the backward pass
            (the reference keeps the pre-activation too); both support
            double backward with equal second-order gradients.
        inplace (bool): with 'fast' and no autograd graph being recorded,
            write the result into ``x`` and return it (``x`` is overwritten;
            use only when the caller no longer needs it). Default: False.

    Returns:
        Tensor: (N, C, H, W), the dtype and memory format of ``x``.
    """
    _check_epilogue_args(x, noise, noise_weight, bias, impl)
    if negative_slope < 0 or gain <= 0:
        raise ValueError('negative_slope must be >= 0 and gain > 0, got '
                         f'{negative_slope} and {gain}')
    if noise is None:
        noise_weight = None
    if impl == 'reference':
        return _reference_epilogue(x, noise, noise_weight, bias,
                                   negative_slope, gain)
    if torch.is_grad_enabled() and any(
            isinstance(t, torch.Tensor) and t.requires_grad
            for t in (x, noise, noise_weight, bias)):
        return _NoiseBiasLeakyReLU.apply(x, noise, noise_weight, bias,
                                         negative_slope, gain)
    out = x if inplace else torch.empty_like(x)
    return _epilogue_into(out, x, noise, noise_weight, bias, negative_slope,
                          gain)
