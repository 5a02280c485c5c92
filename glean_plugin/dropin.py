"""Make MMagic's own GLEAN names build this plugin's classes.

``custom_imports = dict(imports=['glean_plugin.dropin'])`` lets MMagic's GLEAN
and StyleGAN2 configs and checkpoints run unchanged on an mmcv without
compiled ops: ``GLEANStyleGANv2`` then builds :class:`glean_plugin.GLEANNet`,
``StyleGANv2Generator`` / ``StyleGAN2Generator`` build
:class:`glean_plugin.StyleGAN2Generator`, and ``StyleGANv2Discriminator`` /
``StyleGAN2Discriminator`` build :class:`glean_plugin.GLEANDiscriminator`
(same arguments, same state-dict keys). MMagic's classes stay importable from
their modules. In MMagic's scope, ``Adam`` takes the ``betas=(0, b2)`` of
MMagic's StyleGAN2 configs, which current PyTorch refuses (an int beside a
float).
"""
from typing import Sequence

import torch

from .registry import MODELS, OPTIMIZERS
from .models import GLEANDiscriminator, GLEANNet, StyleGAN2Generator

import mmagic.models  # noqa: E402,F401  (register MMagic's names first)

DROPIN_NAMES = {
    'GLEANStyleGANv2': GLEANNet,
    'StyleGANv2Generator': StyleGAN2Generator,
    'StyleGAN2Generator': StyleGAN2Generator,
    'StyleGANv2Discriminator': GLEANDiscriminator,
    'StyleGAN2Discriminator': GLEANDiscriminator,
}

for _name, _cls in DROPIN_NAMES.items():
    MODELS.register_module(name=_name, module=_cls, force=True)


@OPTIMIZERS.register_module(name='Adam', force=True)
class FloatBetasAdam(torch.optim.Adam):
    """``torch.optim.Adam`` with int betas made floats (same optimiser).

    MMagic's StyleGAN2 configs give ``betas=(0, 0.99**ratio)``; current
    PyTorch raises "betas must be either both floats or both Tensors".
    """

    def __init__(self, params, betas: Sequence[float] = (0.9, 0.999),
                 **kwargs) -> None:
        betas = tuple(float(b) if isinstance(b, int) else b for b in betas)
        super().__init__(params, betas=betas, **kwargs)


__all__ = ['DROPIN_NAMES', 'FloatBetasAdam']
