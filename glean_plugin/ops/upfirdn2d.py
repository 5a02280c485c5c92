"""FIR up/down-sampling (``upfirdn2d``) in plain PyTorch.

The op pads, upsamples by zero insertion, convolves with a 2D FIR filter and
downsamples, for every channel independently (as ``scipy.signal.upfirdn``).
``impl='reference'`` spells out exactly those steps and is the specification;
``impl='fast'`` (default) gives the same result with a polyphase transposed
convolution for upsampling and a strided depthwise convolution otherwise.
"""
from typing import Sequence, Tuple, Union

import torch
import torch.nn.functional as F

__all__ = ['make_fir_kernel', 'upfirdn2d', 'UPFIRDN_IMPLS']

UPFIRDN_IMPLS = ('fast', 'reference')

Padding = Union[int, Sequence[int]]


def make_fir_kernel(taps: Sequence[float]) -> torch.Tensor:
    """Build a normalised 2D FIR kernel from 1D (separable) or 2D taps.

    Args:
        taps (Sequence[float] | Tensor): (K,) taps, used as an outer product,
            or (K, K) taps.

    Returns:
        Tensor: (K, K) float32 kernel summing to 1.
    """
    k = torch.as_tensor(taps, dtype=torch.float32, device='cpu')
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    if k.ndim != 2 or k.numel() == 0:
        raise ValueError(
            'FIR taps must be 1D or 2D and non-empty, got shape '
            f'{tuple(k.shape)}')
    total = k.sum()
    if total == 0:
        raise ValueError('FIR taps must not sum to zero')
    return k / total


def _parse_padding(pad: Padding) -> Tuple[int, int, int, int]:
    """Normalise ``pad`` to (x0, x1, y0, y1)."""
    if isinstance(pad, int):
        return pad, pad, pad, pad
    pad = tuple(int(p) for p in pad)
    if len(pad) == 2:  # (before, after) on both axes
        return pad[0], pad[1], pad[0], pad[1]
    if len(pad) == 4:
        return pad  # type: ignore[return-value]
    raise ValueError(
        f'pad must be an int, (before, after) or (x0, x1, y0, y1), got {pad}')


def _pad_or_crop(x: torch.Tensor, x0: int, x1: int, y0: int,
                 y1: int) -> torch.Tensor:
    """Zero-pad (positive) or crop (negative) the last two dims."""
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    return x[..., max(-y0, 0):x.shape[-2] - max(-y1, 0),
             max(-x0, 0):x.shape[-1] - max(-x1, 0)]


def _reference(x, kernel, up, down, pad):
    n, c, h, w = x.shape
    # 1. upsample by inserting up-1 zeros after each sample
    if up > 1:
        z = x.new_zeros(n, c, h * up, w * up)
        z[..., ::up, ::up] = x
        x = z
    # 2. pad / crop
    x = _pad_or_crop(x, *pad)
    # 3. true convolution with the FIR filter (conv2d correlates: flip it)
    weight = kernel.flip([0, 1]).to(x.dtype)[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, weight, groups=c)
    # 4. keep every down-th sample
    return x[..., ::down, ::down]


def _fast(x, kernel, up, down, pad):
    c = x.shape[1]
    kh, kw = kernel.shape
    weight = kernel.flip([0, 1]).to(x.dtype)[None, None].expand(c, 1, kh, kw)
    x0, x1, y0, y1 = pad
    if up > 1:
        # Zero insertion + full-width convolution == transposed convolution
        # with stride ``up``. The transposed conv computes the full output
        # (i.e. an implicit padding of k-1 on both sides, and the up-1
        # trailing zeros are not produced), so correct the padding.
        x = F.conv_transpose2d(x, kernel.to(x.dtype)[None, None].expand(
            c, 1, kh, kw), stride=up, groups=c)
        x = _pad_or_crop(x, x0 - (kw - 1), x1 - (kw - 1) + (up - 1),
                         y0 - (kh - 1), y1 - (kh - 1) + (up - 1))
        return x[..., ::down, ::down] if down > 1 else x
    if x0 == x1 >= 0 and y0 == y1 >= 0:
        # Symmetric zero padding: let the convolution pad, no padded copy.
        return F.conv2d(x, weight.contiguous(), stride=down, padding=(y0, x0),
                        groups=c)
    x = _pad_or_crop(x, x0, x1, y0, y1)
    return F.conv2d(x, weight.contiguous(), stride=down, groups=c)


def upfirdn2d(x: torch.Tensor,
              kernel: torch.Tensor,
              up: int = 1,
              down: int = 1,
              pad: Padding = 0,
              impl: str = 'fast') -> torch.Tensor:
    """Upsample (zero insertion), pad, FIR-filter and downsample each channel.

    Args:
        x (Tensor): (N, C, H, W) input.
        kernel (Tensor): (KH, KW) FIR filter, applied as a true convolution
            (flipped), like ``scipy.signal.upfirdn`` and StyleGAN2.
        up (int): Upsampling factor (zeros inserted after each sample).
        down (int): Downsampling factor (every ``down``-th sample kept).
        pad (int | tuple): Padding of the upsampled signal, an int,
            (before, after) for both axes, or (x0, x1, y0, y1). Negative
            values crop.
        impl (str): 'fast' (default) or 'reference'; they give equal results.

    Returns:
        Tensor: (N, C, H', W') with
        H' = (H * up + y0 + y1 - KH) // down + 1, W' likewise.
    """
    if x.ndim != 4:
        raise ValueError(f'x must be (N, C, H, W), got shape {tuple(x.shape)}')
    if kernel.ndim != 2:
        raise ValueError(
            f'kernel must be 2D (KH, KW), got shape {tuple(kernel.shape)}')
    if int(up) < 1 or int(down) < 1:
        raise ValueError(f'up and down must be >= 1, got up={up}, down={down}')
    if impl not in UPFIRDN_IMPLS:
        raise ValueError(f'impl must be one of {UPFIRDN_IMPLS}, got {impl!r}')
    pad = _parse_padding(pad)
    kh, kw = kernel.shape
    h_up = x.shape[2] * up + pad[2] + pad[3]
    w_up = x.shape[3] * up + pad[0] + pad[1]
    if h_up < kh or w_up < kw:
        raise ValueError(
            f'padded, upsampled size ({h_up}, {w_up}) is smaller than the '
            f'kernel ({kh}, {kw})')
    kernel = kernel.to(x.device)
    if impl == 'reference':
        return _reference(x, kernel, int(up), int(down), pad)
    return _fast(x, kernel, int(up), int(down), pad)
