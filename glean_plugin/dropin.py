"""Make MMagic's own GLEAN names build, and name, this plugin's classes.

``custom_imports = dict(imports=['glean_plugin.dropin'])`` lets MMagic's GLEAN
and StyleGAN2 configs and checkpoints run unchanged on an mmcv without
compiled ops: ``GLEANStyleGANv2`` then builds :class:`glean_plugin.GLEANNet`,
``StyleGANv2Generator`` / ``StyleGAN2Generator`` build
:class:`glean_plugin.StyleGAN2Generator`, and ``StyleGANv2Discriminator`` /
``StyleGAN2Discriminator`` build :class:`glean_plugin.GLEANDiscriminator`
(same arguments, same state-dict keys).

MMagic's public names are rebound as well, so that ``isinstance`` checks in
user code and in MMagic's code hold: every package under ``mmagic.models``
that exports one of MMagic's classes (``mmagic.models.GLEANStyleGANv2``,
``mmagic.models.editors.GLEANStyleGANv2``,
``mmagic.models.editors.stylegan2.StyleGAN2Discriminator``, ...) names the
plugin's class afterwards; :data:`REBOUND` lists them. The modules that
define MMagic's classes keep them (their own code names them, e.g.
``super(StyleGAN2Generator, self)``), and :data:`MMAGIC_CLASSES` maps each
registry name to MMagic's original class, for comparisons; inside
``glean_plugin.registry.mmagic_builds()`` MMagic's names build MMagic's own
classes again (MMagic's ``GLEANStyleGANv2`` builds its generator by name).

In MMagic's scope, ``Adam`` takes the ``betas=(0, b2)`` of MMagic's StyleGAN2
configs, which current PyTorch refuses (an int beside a float).
"""
import sys
from types import MappingProxyType
from typing import Mapping, Sequence, Tuple

# MMagic registers its names first (glean_plugin's __init__, imported before
# this module, has made mmagic.models importable)
import mmagic.models  # noqa: F401
import torch

from .models import GLEANDiscriminator, GLEANNet, StyleGAN2Generator
from .registry import OPTIMIZERS, replace_mmagic_model

DROPIN_NAMES = MappingProxyType({
    'GLEANStyleGANv2': GLEANNet,
    'StyleGANv2Generator': StyleGAN2Generator,
    'StyleGAN2Generator': StyleGAN2Generator,
    'StyleGANv2Discriminator': GLEANDiscriminator,
    'StyleGAN2Discriminator': GLEANDiscriminator,
})


def rebind_public_names(originals: Mapping[str, type]
                        ) -> Tuple[Tuple[str, str], ...]:
    """Point MMagic's package-level exports of ``originals`` at the plugin's.

    Args:
        originals (Mapping[str, type]): registry name -> MMagic's class.

    Returns:
        tuple[tuple[str, str], ...]: (module, attribute) pairs rebound,
        sorted.
    """
    replacement = {id(originals[name]): cls
                   for name, cls in DROPIN_NAMES.items()}
    rebound = []
    for mod_name, module in list(sys.modules.items()):
        is_package = hasattr(module, '__path__')
        if not (is_package and (mod_name == 'mmagic.models'
                                or mod_name.startswith('mmagic.models.'))):
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in replacement:
                setattr(module, attr, replacement[id(value)])
                rebound.append((mod_name, attr))
    return tuple(sorted(rebound))


# MMagic's originals, taken as the plugin's classes take their names (MMagic's
# GLEANStyleGANv2 builds its generator by name: build it inside
# ``glean_plugin.registry.mmagic_builds()``)
MMAGIC_CLASSES: Mapping[str, type] = MappingProxyType({
    name: replace_mmagic_model(name, cls)
    for name, cls in DROPIN_NAMES.items()})

REBOUND: Tuple[Tuple[str, str], ...] = rebind_public_names(MMAGIC_CLASSES)


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


__all__ = ['DROPIN_NAMES', 'FloatBetasAdam', 'MMAGIC_CLASSES', 'REBOUND',
           'rebind_public_names']
