"""StyleGAN2 modulated convolution, with demodulation and 2x upsampling.

Two formulations give the same result, and ``impl`` picks one:

- ``'grouped'``: the paper's form and the specification. Every sample gets its
  own weight ``w * s`` (scaled by the demodulation coefficients) and the batch
  runs as one grouped convolution.
- ``'scaled'`` (the default of ``modulated_conv2d``): the input is scaled by
  the style, one shared weight convolves the whole batch, and the output is
  scaled by the demodulation coefficients:
  conv(x * s, w) * d == conv(x, w * s * d). One plain batched convolution
  instead of a grouped one.
- ``'auto'``: one of the two per call, by a fixed rule on the inputs
  (``choose_modconv_impl``).

Which is faster depends on the shapes and the device: measure with
``tools/analysis/benchmark_speed.py --modconv-impl``.
"""
from typing import Optional

import torch
import torch.nn.functional as F

from .upfirdn2d import upfirdn2d

__all__ = ['choose_modconv_impl', 'modulated_conv2d', 'MODULATED_CONV_IMPLS',
           'DEMOD_EPS']

MODULATED_CONV_IMPLS = ('scaled', 'grouped', 'auto')
# Added to the squared weight norm before rsqrt, as in StyleGAN2.
DEMOD_EPS = 1e-8
# 'auto' picks 'grouped' from this many input pixels on (no autograd,
# NCHW): large maps are where saving the style-scaled copy of the input and
# the demodulation pass pays for the grouped convolution on CPU.
GROUPED_MIN_PIXELS = 128 * 128


def choose_modconv_impl(x: torch.Tensor, weight: torch.Tensor,
                        styles: torch.Tensor) -> str:
    """The formulation ``impl='auto'`` uses for these inputs.

    'scaled' whenever autograd records the call (its backward needs no
    weight gradient: frozen weights cost one convolution less), the input is
    channels_last (grouped convolutions are slow in that layout) or small;
    else 'grouped'.

    Args:
        x (Tensor): (N, I, H, W) input.
        weight (Tensor): (O, I, K, K) weight.
        styles (Tensor): (N, I) styles.

    Returns:
        str: 'scaled' or 'grouped'.
    """
    recording = torch.is_grad_enabled() and any(
        t.requires_grad for t in (x, weight, styles))
    nchw = x.is_contiguous() and not (
        x.shape[1] > 1 and x.is_contiguous(memory_format=torch.channels_last))
    big = x.shape[2] * x.shape[3] >= GROUPED_MIN_PIXELS
    return 'grouped' if not recording and nchw and big else 'scaled'


def _demod_coefficients(weight: torch.Tensor, styles: torch.Tensor,
                        eps: float) -> torch.Tensor:
    """(N, O): 1 / ||w_o * s||_2 over input channels and taps."""
    w2 = weight.square().sum(dim=(2, 3))  # (O, I)
    return torch.rsqrt(styles.square() @ w2.t() + eps)


def _upsample_blur(x: torch.Tensor, fir_kernel: torch.Tensor,
                   kernel_size: int, impl: str) -> torch.Tensor:
    """FIR filter after a stride-2 transposed conv, as in StyleGAN2."""
    factor = 2
    p = (fir_kernel.shape[0] - factor) - (kernel_size - 1)
    pad0 = (p + 1) // 2 + factor - 1
    pad1 = p // 2 + 1
    return upfirdn2d(x, fir_kernel, pad=(pad0, pad1), impl=impl)


def modulated_conv2d(x: torch.Tensor,
                     weight: torch.Tensor,
                     styles: torch.Tensor,
                     demodulate: bool = True,
                     upsample: bool = False,
                     fir_kernel: Optional[torch.Tensor] = None,
                     eps: float = DEMOD_EPS,
                     impl: str = 'scaled',
                     fir_impl: str = 'fast') -> torch.Tensor:
    """Modulated (and demodulated) convolution, optionally upsampling by 2.

    Args:
        x (Tensor): (N, I, H, W) input.
        weight (Tensor): (O, I, K, K) convolution weight, K odd, already
            scaled (equalized learning rate applied).
        styles (Tensor): (N, I) per-sample input-channel scales.
        demodulate (bool): Normalise each output channel's weight to unit
            norm per sample. Default: True.
        upsample (bool): Upsample by 2 with a stride-2 transposed convolution
            followed by the FIR filter ``fir_kernel``. Default: False.
        fir_kernel (Tensor, optional): (F, F) FIR kernel applied after the
            transposed convolution, including the upsampling gain (e.g.
            ``make_fir_kernel((1, 3, 3, 1)) * 4``); required when ``upsample``.
        eps (float): Added to the squared norm before demodulation.
        impl (str): 'scaled' (default), 'grouped' or 'auto'
            (``choose_modconv_impl``); equal results.
        fir_impl (str): implementation of the FIR filter, see ``upfirdn2d``.

    Returns:
        Tensor: (N, O, H, W), or (N, O, 2H, 2W) when ``upsample``.
    """
    if impl not in MODULATED_CONV_IMPLS:
        raise ValueError(
            f'impl must be one of {MODULATED_CONV_IMPLS}, got {impl!r}')
    if x.ndim != 4 or weight.ndim != 4 or styles.ndim != 2:
        raise ValueError(
            'expected x (N, I, H, W), weight (O, I, K, K), styles (N, I); got '
            f'{tuple(x.shape)}, {tuple(weight.shape)}, {tuple(styles.shape)}')
    n, c_in = x.shape[:2]
    c_out, _, k, _ = weight.shape
    if weight.shape[1] != c_in or styles.shape != (n, c_in):
        raise ValueError(
            f'channel mismatch: x has {c_in} channels, weight expects '
            f'{weight.shape[1]}, styles has shape {tuple(styles.shape)} '
            f'(expected ({n}, {c_in}))')
    if k % 2 != 1:
        raise ValueError(f'kernel size must be odd, got {k}')
    if upsample and fir_kernel is None:
        raise ValueError('upsample=True needs a fir_kernel')
    if impl == 'auto':
        impl = choose_modconv_impl(x, weight, styles)
    styles = styles.to(x.dtype)
    weight = weight.to(x.dtype)
    demod = _demod_coefficients(weight, styles, eps) if demodulate else None

    if impl == 'grouped':
        w = weight[None] * styles[:, None, :, None, None]  # (N, O, I, K, K)
        if demod is not None:
            w = w * demod[:, :, None, None, None]
        xg = x.reshape(1, n * c_in, *x.shape[2:])
        if upsample:
            w = w.transpose(1, 2).reshape(n * c_in, c_out, k, k)
            out = F.conv_transpose2d(xg, w, stride=2, groups=n)
        else:
            out = F.conv2d(xg, w.reshape(n * c_out, c_in, k, k),
                           padding=k // 2, groups=n)
        out = out.reshape(n, c_out, *out.shape[2:])
    else:
        xs = x * styles[:, :, None, None]
        if upsample:
            out = F.conv_transpose2d(xs, weight.transpose(0, 1), stride=2)
        else:
            out = F.conv2d(xs, weight, padding=k // 2)
        if demod is not None:
            demod = demod[:, :, None, None]
            # the convolution's output is fresh: scale it in place when no
            # autograd graph is recorded
            out = out * demod if torch.is_grad_enabled() else out.mul_(demod)

    if upsample:
        out = _upsample_blur(out, fir_kernel, k, fir_impl)
    return out
