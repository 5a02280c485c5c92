"""Equalized-learning-rate layers and pixel norm (StyleGAN2's mapping MLP)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...ops import bias_leaky_relu

__all__ = ['EqualizedWeight', 'EqualLinear', 'PixelNorm']

# Pixel norm epsilon of MMagic's StyleGAN2 (``norm_eps``).
PIXEL_NORM_EPS = 1e-6


class EqualizedWeight(nn.Module):
    """Holds an unscaled weight as ``weight_orig``.

    Exists so that state-dict keys match MMagic's layout
    (``<layer>.linear.weight_orig``); the owner applies the scale.

    Args:
        weight (Tensor): initial unscaled weight.
    """

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight_orig = nn.Parameter(weight)


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate, optional fused activation.

    The stored weight is N(0, 1/lr_mul) and is scaled by lr_mul/sqrt(in) at
    run time; the bias is stored divided by lr_mul. State-dict keys:
    ``linear.weight_orig`` (out, in) and ``bias`` (out,).

    Args:
        in_features (int): input size.
        out_features (int): output size.
        bias_init (float): initial bias value. Default: 0.
        lr_mul (float): learning-rate multiplier. Default: 1.
        activate (bool): apply bias + leaky ReLU * sqrt(2). Default: False.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias_init: float = 0.,
                 lr_mul: float = 1.,
                 activate: bool = False) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.linear = EqualizedWeight(
            torch.randn(out_features, in_features).div_(lr_mul))
        self.bias = nn.Parameter(
            torch.full((out_features, ), float(bias_init)))
        self.lr_mul = lr_mul
        self.scale = lr_mul / math.sqrt(in_features)
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, in). Returns: Tensor: (N, out)."""
        weight = self.linear.weight_orig * self.scale
        bias = self.bias * self.lr_mul
        if self.activate:
            return bias_leaky_relu(F.linear(x, weight), bias)
        return F.linear(x, weight, bias)


class PixelNorm(nn.Module):
    """Normalise each sample to unit RMS over dim 1 (MMagic's formula).

    Args:
        eps (float): added to the RMS. Default: 1e-6.
    """

    def __init__(self, eps: float = PIXEL_NORM_EPS) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C, ...). Returns: Tensor: same shape."""
        rms = torch.linalg.vector_norm(x, dim=1, keepdim=True) / math.sqrt(
            x.shape[1])
        return x / (rms + self.eps)
