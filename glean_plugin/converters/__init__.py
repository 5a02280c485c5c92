"""Converters of StyleGAN2 checkpoints to MMagic's layout (pure functions).

``convert_stylegan2(load_stylegan2_source(path))`` turns rosinality's
stylegan2-pytorch ``.pt`` files and NVIDIA's stylegan2-ada-pytorch ``.pkl``
files into ``{'state_dict': {'generator_ema.*', 'discriminator.*'}, 'meta'}``,
which the configs load with ``init_cfg=dict(type='Pretrained', ...)``.
``tools/convert_stylegan2.py`` is the command line.
"""
from .files import (PersistentObject, check_destination, load_stylegan2_source,
                    module_state, save_checkpoint)
from .layout import (ConversionWarning, DiscriminatorArch, GeneratorArch,
                     fit_channel_table)
from .stylegan2 import (DISCRIMINATOR_PREFIX, GENERATOR_PREFIX, SOURCE_FORMATS,
                        SourceNetworks, convert_stylegan2, split_source)

__all__ = [
    'ConversionWarning', 'DISCRIMINATOR_PREFIX', 'DiscriminatorArch',
    'GENERATOR_PREFIX', 'GeneratorArch', 'PersistentObject',
    'SOURCE_FORMATS', 'SourceNetworks', 'check_destination',
    'convert_stylegan2', 'fit_channel_table', 'load_stylegan2_source',
    'module_state', 'save_checkpoint', 'split_source'
]
