"""Plain ``nn.Module`` building blocks (no registry)."""
from .activation_checkpoint import checkpoint_call, set_grad_checkpointing
from .equalized import EqualizedWeight, EqualLinear, PixelNorm
from .memory_format import to_channels_last_
from .rrdb import (RRDB, ResidualDenseBlock, RRDBFeatureExtractor,
                   scaled_kaiming_init_)
from .stylegan2 import (BiasLeakyReLU, ConstantInput, FIRFilter,
                        ModulatedConv2d, NoiseInjection, StyledConv, ToRGB)
from .upsample import PixelShufflePack

__all__ = [
    'BiasLeakyReLU', 'ConstantInput', 'EqualizedWeight', 'EqualLinear',
    'FIRFilter', 'ModulatedConv2d', 'NoiseInjection', 'PixelNorm',
    'PixelShufflePack', 'RRDB', 'RRDBFeatureExtractor', 'ResidualDenseBlock',
    'StyledConv', 'ToRGB', 'checkpoint_call', 'scaled_kaiming_init_',
    'set_grad_checkpointing', 'to_channels_last_'
]
