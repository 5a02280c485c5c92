"""GLEAN (Chan et al., CVPR 2021) for MMagic, in pure PyTorch.

``import glean_plugin`` (or ``custom_imports=dict(imports=['glean_plugin'])``)
makes MMagic importable without compiled mmcv ops and registers the plugin's
models into MMagic's registries.
"""
from . import registry  # noqa: F401  # isort: skip  (first: mmcv compatibility)
from . import engine  # noqa: F401  (registers GLEANSeparateDDP)
from . import evaluation  # noqa: F401  (registers metrics)
from .models import (GLEANDiscriminator, GLEANNet, StyleGAN2Generator,
                     StyleGAN2LatentBank, VGGPerceptualLoss)

__version__ = '0.1.0'
__all__ = [
    'GLEANDiscriminator', 'GLEANNet', 'StyleGAN2Generator',
    'StyleGAN2LatentBank', 'VGGPerceptualLoss', '__version__'
]
