"""Plain ``nn.Module`` building blocks (no registry)."""
from .equalized import EqualizedWeight, EqualLinear, PixelNorm
from .rrdb import RRDB, ResidualDenseBlock, RRDBFeatureExtractor, scaled_kaiming_init_
from .stylegan2 import (BiasLeakyReLU, ConstantInput, FIRFilter,
                        ModulatedConv2d, NoiseInjection, StyledConv, ToRGB)
from .upsample import PixelShufflePack

__all__ = [
    'BiasLeakyReLU', 'ConstantInput', 'EqualizedWeight', 'EqualLinear',
    'FIRFilter', 'ModulatedConv2d', 'NoiseInjection', 'PixelNorm',
    'PixelShufflePack', 'RRDB', 'RRDBFeatureExtractor', 'ResidualDenseBlock',
    'StyledConv', 'ToRGB', 'scaled_kaiming_init_'
]
