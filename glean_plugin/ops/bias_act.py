"""Bias + leaky ReLU + gain, StyleGAN2's fused activation, in plain PyTorch."""
import math
from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ['bias_leaky_relu', 'DEFAULT_NEGATIVE_SLOPE', 'DEFAULT_GAIN']

# StyleGAN2's leaky ReLU slope and the gain that keeps activations' variance
# (sqrt(2), the He-init gain; the (1 + slope^2) factor is ignored as in the
# official code).
DEFAULT_NEGATIVE_SLOPE = 0.2
DEFAULT_GAIN = math.sqrt(2.0)


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
        if bias.ndim != 1 or bias.shape[0] != x.shape[1]:
            raise ValueError(
                f'bias must have shape ({x.shape[1]},) for an input with '
                f'{x.shape[1]} channels, got {tuple(bias.shape)}')
        x = x + bias.to(x.dtype).view([1, -1] + [1] * (x.ndim - 2))
    x = F.leaky_relu(x, negative_slope)
    if gain != 1:
        x = x * gain
    return x
