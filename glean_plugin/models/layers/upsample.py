"""Sub-pixel (pixel shuffle) upsampling."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .rrdb import scaled_kaiming_init_

__all__ = ['PixelShufflePack']


class PixelShufflePack(nn.Module):
    """Conv to ``out * scale**2`` channels, then pixel shuffle.

    Same keys (``upsample_conv``) and init as MMagic's ``PixelShufflePack``.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        scale_factor (int): upsampling factor.
        upsample_kernel (int): conv kernel size.
    """

    def __init__(self, in_channels: int, out_channels: int, scale_factor: int,
                 upsample_kernel: int) -> None:
        super().__init__()
        self.scale_factor = scale_factor
        self.upsample_conv = nn.Conv2d(
            in_channels,
            out_channels * scale_factor**2,
            upsample_kernel,
            padding=(upsample_kernel - 1) // 2)
        scaled_kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C, H, W). Returns: (N, out, sH, sW)."""
        return F.pixel_shuffle(self.upsample_conv(x), self.scale_factor)
