"""GLEAN (Chan et al., CVPR 2021) for MMagic, in pure PyTorch.

``import glean_plugin`` (or ``custom_imports=dict(imports=['glean_plugin'])``)
makes MMagic importable without compiled mmcv ops and registers the plugin's
models into MMagic's registries.
"""
from . import registry  # noqa: F401  (must come first: mmcv compatibility)
from .models import GLEANNet, StyleGAN2LatentBank

__version__ = '0.1.0'
__all__ = ['GLEANNet', 'StyleGAN2LatentBank', '__version__']
