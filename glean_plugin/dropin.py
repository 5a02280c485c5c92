"""Make MMagic's own GLEAN names build this plugin's classes.

``custom_imports = dict(imports=['glean_plugin.dropin'])`` lets MMagic's GLEAN
and StyleGAN2 configs and checkpoints run unchanged on an mmcv without
compiled ops: ``GLEANStyleGANv2`` then builds :class:`glean_plugin.GLEANNet`,
``StyleGANv2Generator`` / ``StyleGAN2Generator`` build
:class:`glean_plugin.StyleGAN2Generator`, and ``StyleGANv2Discriminator`` /
``StyleGAN2Discriminator`` build :class:`glean_plugin.GLEANDiscriminator`
(same arguments, same state-dict keys). MMagic's classes stay importable from
their modules.
"""
from .registry import MODELS
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

__all__ = ['DROPIN_NAMES']
