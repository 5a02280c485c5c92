"""StyleGAN2 synthesis layers (rosinality's vocabulary, MMagic's keys)."""
import math
from typing import Optional, Sequence

import torch
import torch.nn as nn

from ...ops import (bias_leaky_relu, make_fir_kernel, modulated_conv2d,
                    noise_bias_leaky_relu, upfirdn2d)
from ...ops.bias_act import EPILOGUE_IMPLS
from .equalized import EqualLinear

__all__ = ['BiasLeakyReLU', 'ConstantInput', 'FIRFilter', 'ModulatedConv2d',
           'NoiseInjection', 'StyledConv', 'ToRGB']

# StyleGAN2's resampling filter.
DEFAULT_BLUR_KERNEL = (1, 3, 3, 1)
UP_FACTOR = 2


class FIRFilter(nn.Module):
    """Holds a FIR kernel as the buffer ``kernel`` (MMagic's ``Blur`` keys).

    Args:
        taps (Sequence[int]): 1D taps (outer product) or 2D taps.
        gain (float): multiplies the normalised kernel (factor**2 when the
            filter follows upsampling).
    """

    def __init__(self, taps: Sequence[float], gain: float = 1.) -> None:
        super().__init__()
        self.register_buffer('kernel', make_fir_kernel(taps) * gain)


class BiasLeakyReLU(nn.Module):
    """Learned bias + leaky ReLU + sqrt(2) gain; key ``bias`` (C,).

    Runs ``noise_bias_leaky_relu``'s fast form: one output buffer, and under
    autograd only the output is kept for the backward pass.

    Args:
        channels (int): number of channels.
        inplace (bool): without autograd, overwrite the input (use where it
            is a fresh convolution output nobody else reads). Default: False.
    """

    def __init__(self, channels: int, inplace: bool = False) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C, H, W). Returns: Tensor: same shape."""
        if x.ndim != 4:
            return bias_leaky_relu(x, self.bias)
        return noise_bias_leaky_relu(x, bias=self.bias, inplace=self.inplace)


class ModulatedConv2d(nn.Module):
    """Modulated convolution layer with its style affine.

    State-dict keys as MMagic's: ``weight_orig`` (1, O, I, K, K),
    ``style_modulation.{linear.weight_orig,bias}``, ``blur.kernel`` when
    upsampling.

    Args:
        in_channels (int): input channels I.
        out_channels (int): output channels O.
        kernel_size (int): odd kernel size K.
        style_channels (int): size of the latent w.
        demodulate (bool): weight demodulation. Default: True.
        upsample (bool): 2x upsampling (transposed conv + FIR). Default: False.
        blur_kernel (Sequence[int]): FIR taps. Default: (1, 3, 3, 1).
        impl (str): modulated-conv formulation: 'scaled' (default),
            'grouped' or 'auto' (chosen per call), see ``modulated_conv2d``;
            equal results.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 style_channels: int,
                 demodulate: bool = True,
                 upsample: bool = False,
                 blur_kernel: Sequence[int] = DEFAULT_BLUR_KERNEL,
                 impl: str = 'scaled') -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.upsample = upsample
        self.impl = impl
        # style affine starts at 1 so that modulation starts as identity.
        self.style_modulation = EqualLinear(
            style_channels, in_channels, bias_init=1.)
        self.weight_orig = nn.Parameter(
            torch.randn(1, out_channels, in_channels, kernel_size,
                        kernel_size))
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        if upsample:
            self.blur = FIRFilter(blur_kernel, gain=UP_FACTOR**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Args:
            x (Tensor): (N, I, H, W) features.
            w (Tensor): (N, style_channels) latent.

        Returns:
            Tensor: (N, O, H, W), or (N, O, 2H, 2W) when upsampling.
        """
        styles = self.style_modulation(w)
        return modulated_conv2d(
            x,
            self.weight_orig[0] * self.scale,
            styles,
            demodulate=self.demodulate,
            upsample=self.upsample,
            fir_kernel=self.blur.kernel if self.upsample else None,
            impl=self.impl)


def _random_noise(x: torch.Tensor) -> torch.Tensor:
    """Fresh Gaussian noise (N, 1, H, W) for features x (N, C, H, W)."""
    return x.new_empty(x.shape[0], 1, *x.shape[2:]).normal_()


class NoiseInjection(nn.Module):
    """Adds ``weight * noise``; key ``weight`` (1,), initialised to 0."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor,
                noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args:
            x (Tensor): (N, C, H, W) features.
            noise (Tensor, optional): broadcastable to (N, 1, H, W); fresh
                Gaussian noise when None.

        Returns:
            Tensor: (N, C, H, W).
        """
        if noise is None:
            noise = _random_noise(x)
        return x + self.weight.to(x.dtype) * noise.to(x.dtype)


class StyledConv(nn.Module):
    """Modulated conv + noise injection + bias/leaky ReLU.

    Keys: ``conv.*``, ``noise_injector.weight``, ``activate.bias``.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): odd kernel size.
        style_channels (int): size of the latent w.
        upsample (bool): 2x upsampling. Default: False.
        blur_kernel (Sequence[int]): FIR taps. Default: (1, 3, 3, 1).
        impl (str): modulated-conv formulation: 'scaled' (default),
            'grouped' or 'auto', see ``ModulatedConv2d``.
        epilogue_impl (str): 'fast' (default: noise, bias, activation and
            gain in one buffer, see ``noise_bias_leaky_relu``) or
            'reference' (one op per term); equal results.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 style_channels: int,
                 upsample: bool = False,
                 blur_kernel: Sequence[int] = DEFAULT_BLUR_KERNEL,
                 impl: str = 'scaled',
                 epilogue_impl: str = 'fast') -> None:
        super().__init__()
        if epilogue_impl not in EPILOGUE_IMPLS:
            raise ValueError(f'epilogue_impl must be one of {EPILOGUE_IMPLS}, '
                             f'got {epilogue_impl!r}')
        self.epilogue_impl = epilogue_impl
        self.conv = ModulatedConv2d(
            in_channels,
            out_channels,
            kernel_size,
            style_channels,
            upsample=upsample,
            blur_kernel=blur_kernel,
            impl=impl)
        self.noise_injector = NoiseInjection()
        self.activate = BiasLeakyReLU(out_channels)

    def forward(self,
                x: torch.Tensor,
                w: torch.Tensor,
                noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args:
            x (Tensor): (N, I, H, W) features.
            w (Tensor): (N, style_channels) latent.
            noise (Tensor, optional): (1 or N, 1, H', W') noise at the output
                size; random when None.

        Returns:
            Tensor: (N, O, H', W').
        """
        out = self.conv(x, w)
        if noise is None:
            noise = _random_noise(out)
        # ``out`` is a fresh convolution output: the epilogue may overwrite it.
        return noise_bias_leaky_relu(
            out, noise, self.noise_injector.weight, self.activate.bias,
            impl=self.epilogue_impl, inplace=True)


class ToRGB(nn.Module):
    """1x1 modulated conv (no demodulation) to RGB, plus the upsampled skip.

    Keys: ``conv.*``, ``bias`` (1, C, 1, 1), ``upsample.kernel``.

    Args:
        in_channels (int): input channels.
        style_channels (int): size of the latent w.
        out_channels (int): image channels. Default: 3.
        upsample (bool): whether the skip image is upsampled. Default: True.
        blur_kernel (Sequence[int]): FIR taps. Default: (1, 3, 3, 1).
    """

    def __init__(self,
                 in_channels: int,
                 style_channels: int,
                 out_channels: int = 3,
                 upsample: bool = True,
                 blur_kernel: Sequence[int] = DEFAULT_BLUR_KERNEL) -> None:
        super().__init__()
        if upsample:
            self.upsample = FIRFilter(blur_kernel, gain=UP_FACTOR**2)
        self.conv = ModulatedConv2d(
            in_channels, out_channels, 1, style_channels, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self,
                x: torch.Tensor,
                w: torch.Tensor,
                skip: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Args:
            x (Tensor): (N, I, H, W) features.
            w (Tensor): (N, style_channels) latent.
            skip (Tensor, optional): previous RGB image, (N, C, H/2, W/2)
                (upsampled here) or, without ``upsample``, (N, C, H, W).

        Returns:
            Tensor: (N, C, H, W) image.
        """
        out = self.conv(x, w) + self.bias
        if skip is None:
            return out
        if hasattr(self, 'upsample'):
            kernel = self.upsample.kernel
            p = kernel.shape[0] - UP_FACTOR
            pad0, pad1 = (p + 1) // 2 + UP_FACTOR - 1, p // 2
            skip = upfirdn2d(skip, kernel, up=UP_FACTOR, pad=(pad0, pad1))
        return out + skip


class ConstantInput(nn.Module):
    """Learned constant (1, C, size, size); key ``input``.

    Args:
        channels (int): channels C.
        size (int): spatial size. Default: 4.
    """

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch_size: int) -> torch.Tensor:
        """Returns: Tensor: (batch_size, C, size, size)."""
        return self.input.expand(batch_size, -1, -1, -1)
