"""StyleGAN2 discriminator layers (MMagic's key layout)."""
import math
from typing import Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...ops import upfirdn2d
from .equalized import EqualizedWeight
from .stylegan2 import DEFAULT_BLUR_KERNEL, BiasLeakyReLU, FIRFilter

__all__ = ['Blur', 'ConvDownLayer', 'EqualConv2d', 'MiniBatchStdDev',
           'ResBlock']


class Blur(FIRFilter):
    """FIR low-pass filter with fixed padding; key ``kernel``.

    Args:
        taps (Sequence[int]): FIR taps.
        pad (tuple[int, int]): (before, after) padding on both axes.
    """

    def __init__(self, taps: Sequence[float], pad: Tuple[int, int]) -> None:
        super().__init__(taps)
        self.pad = tuple(pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C, H, W). Returns: filtered (N, C, H', W')."""
        return upfirdn2d(x, self.kernel, pad=self.pad)


class EqualConv2d(nn.Module):
    """Bias-free conv with equalized learning rate; key ``conv.weight_orig``.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): kernel size.
        stride (int): stride. Default: 1.
        padding (int): padding. Default: 0.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.conv = EqualizedWeight(
            torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, I, H, W). Returns: (N, O, H', W')."""
        return F.conv2d(x, self.conv.weight_orig * self.scale,
                        stride=self.stride, padding=self.padding)


class ConvDownLayer(nn.Sequential):
    """[Blur +] equalized conv (stride 2 when downsampling) [+ activation].

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): kernel size.
        downsample (bool): blur then stride-2 conv. Default: False.
        blur_kernel (Sequence[int]): FIR taps. Default: (1, 3, 3, 1).
        activate (bool): bias + leaky ReLU * sqrt(2). Default: True.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 downsample: bool = False,
                 blur_kernel: Sequence[int] = DEFAULT_BLUR_KERNEL,
                 activate: bool = True) -> None:
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            layers.append(
                EqualConv2d(in_channels, out_channels, kernel_size, stride=2))
        else:
            layers.append(
                EqualConv2d(in_channels, out_channels, kernel_size,
                            padding=kernel_size // 2))
        if activate:
            # the convolution's output is fresh: activate it in place
            # (without autograd; under autograd a new buffer)
            layers.append(BiasLeakyReLU(out_channels, inplace=True))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Residual downsampling block: (conv, conv-down) + 1x1 skip, / sqrt(2).

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        blur_kernel (Sequence[int]): FIR taps. Default: (1, 3, 3, 1).
    """

    def __init__(self, in_channels: int, out_channels: int,
                 blur_kernel: Sequence[int] = DEFAULT_BLUR_KERNEL) -> None:
        super().__init__()
        self.conv1 = ConvDownLayer(in_channels, in_channels, 3,
                                   blur_kernel=blur_kernel)
        self.conv2 = ConvDownLayer(in_channels, out_channels, 3,
                                   downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvDownLayer(in_channels, out_channels, 1,
                                  downsample=True, blur_kernel=blur_kernel,
                                  activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, I, H, W). Returns: (N, O, H/2, W/2)."""
        # the sum is a fresh tensor: scale it in place (add's backward keeps
        # nothing, so this is autograd-safe)
        return torch.add(self.conv2(self.conv1(x)),
                         self.skip(x)).mul_(1 / math.sqrt(2))


class MiniBatchStdDev(nn.Module):
    """Appends the group-wise standard deviation as extra channel(s),
    computed in float32 (or float64) whatever the input's dtype or autocast.

    Args:
        group_size (int): samples per group. Default: 4.
        channel_groups (int): number of appended channels. Default: 1.
        eps (float): added to the variance. Default: 1e-8.
    """

    def __init__(self, group_size: int = 4, channel_groups: int = 1,
                 eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size = group_size
        self.channel_groups = channel_groups
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C, H, W). Returns: (N, C + groups, H, W)."""
        n, c, h, w = x.shape
        group = min(n, self.group_size)
        if n % group != 0:
            raise ValueError(
                f'batch size {n} must be <= the minibatch-stddev group size '
                f'{self.group_size} or a multiple of it')
        if c % self.channel_groups != 0:
            raise ValueError(f'{c} channels are not divisible by '
                             f'channel_groups={self.channel_groups}')
        # The statistic in float32 at least, autocast off (as MMagic, which
        # runs this layer outside its float16 blocks): in float16 the eps
        # rounds to 0 and the gradient of sqrt near 0 overflows to NaN.
        dtype = torch.promote_types(x.dtype, torch.float32)
        with torch.autocast(x.device.type, enabled=False):
            y = x.to(dtype).reshape(group, -1, self.channel_groups,
                                    c // self.channel_groups, h, w)
            y = torch.sqrt(y.var(dim=0, unbiased=False) + self.eps)
            y = y.mean(dim=(2, 3, 4)).reshape(-1, self.channel_groups, 1, 1)
        return torch.cat([x, y.to(x.dtype).repeat(group, 1, h, w)], dim=1)
