"""Label mapping of a conditional StyleGAN2 discriminator (MMagic's layout).

MMagic's conditional ``StyleGAN2Discriminator`` maps its label with
StyleGAN3's ``MappingNetwork`` (no z, no w average): an embedding, then
``num_layers`` fully connected leaky-ReLU layers. State-dict keys:
``embed.weight`` / ``embed.bias`` and ``fc{i}.weight`` / ``fc{i}.bias``.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...ops import bias_leaky_relu

__all__ = ['FullyConnected', 'LabelMapping']

# StyleGAN3's mapping normalises the label embedding with this epsilon
# inside the square root (StyleGAN2's PixelNorm adds 1e-6 outside it).
EMBED_NORM_EPS = 1e-8
# Learning-rate multiplier of the mapping layers (StyleGAN3's default).
MAPPING_LR_MUL = 0.01


class FullyConnected(nn.Module):
    """Linear layer with equalized learning rate, keys ``weight`` / ``bias``.

    The stored weight is N(0, 1/lr_mul), scaled by lr_mul/sqrt(in) at run
    time; the bias (stored / lr_mul) is scaled by lr_mul.

    Args:
        in_features (int): input size.
        out_features (int): output size.
        lr_mul (float): learning-rate multiplier. Default: 1.
        activate (bool): bias + leaky ReLU * sqrt(2). Default: False.
    """

    def __init__(self, in_features: int, out_features: int,
                 lr_mul: float = 1., activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, in). Returns: Tensor: (N, out)."""
        weight = self.weight.to(x.dtype) * self.weight_gain
        bias = self.bias.to(x.dtype) * self.lr_mul
        if self.activate:
            return bias_leaky_relu(F.linear(x, weight), bias)
        return F.linear(x, weight, bias)


class LabelMapping(nn.Module):
    """Label -> (N, out_channels) code that weights a conditional score.

    Args:
        cond_size (int): label size.
        out_channels (int): code size.
        num_layers (int): fully connected layers after the embedding.
    """

    def __init__(self, cond_size: int, out_channels: int,
                 num_layers: int) -> None:
        super().__init__()
        self.embed = FullyConnected(cond_size, out_channels)
        self.num_layers = num_layers
        for i in range(num_layers):
            setattr(self, f'fc{i}', FullyConnected(
                out_channels, out_channels, lr_mul=MAPPING_LR_MUL,
                activate=True))

    def forward(self, label: torch.Tensor) -> torch.Tensor:
        """Args: label (Tensor): (N, cond_size). Returns: (N, out_channels)."""
        x = self.embed(label)
        x = x * (x.square().mean(1, keepdim=True) + EMBED_NORM_EPS).rsqrt()
        for i in range(self.num_layers):
            x = getattr(self, f'fc{i}')(x)
        return x
