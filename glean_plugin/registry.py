"""The one place that knows about MMagic's registries and mmcv's compiled ops.

Importing this module first makes MMagic importable on an mmcv without
compiled ops (see ``compat``) and routes mmengine's checkpoint reads through
the restricted loaders (see ``serialization``), then exposes MMagic's
registries.
"""
import contextlib
from typing import Dict, Iterator, Tuple

from .compat import install_mmcv_ext_placeholder
from .serialization import install_mmengine_checkpoint_loaders

install_mmcv_ext_placeholder()
install_mmengine_checkpoint_loaders()

from mmagic.registry import METRICS, MODELS, OPTIMIZERS  # noqa: E402
# The Runner looks wrappers up in mmengine's root registry by name (not in
# MMagic's child registry), so wrappers register there. Hooks too: a hook in
# the root registry builds whatever the config's default_scope is.
from mmengine.registry import HOOKS, MODEL_WRAPPERS  # noqa: E402

__all__ = ['HOOKS', 'METRICS', 'MODEL_WRAPPERS', 'MODELS', 'OPTIMIZERS',
           'mmagic_builds', 'replace_mmagic_model', 'restore_mmagic_models']

# MMagic's registry names that glean_plugin.dropin took over:
# name -> (MMagic's class, the plugin's class).
_replaced: Dict[str, Tuple[type, type]] = {}


def replace_mmagic_model(name: str, cls: type) -> type:
    """Make MMagic's model name ``name`` build ``cls``; return MMagic's own
    class for that name (the first one, however often it is replaced)."""
    original = _replaced[name][0] if name in _replaced else MODELS.get(name)
    if original is None:
        raise KeyError(f'MMagic registers no model named {name!r}')
    _replaced[name] = (original, cls)
    MODELS.register_module(name=name, module=cls, force=True)
    return original


def _register_replaced(which: int) -> None:
    """Register, for each replaced name, MMagic's class (0) or the
    plugin's (1)."""
    for name, classes in _replaced.items():
        MODELS.register_module(name=name, module=classes[which], force=True)


@contextlib.contextmanager
def mmagic_builds() -> Iterator[None]:
    """Inside the block, the names the drop-in took over build MMagic's own
    classes again, e.g. to build MMagic's ``GLEANStyleGANv2`` (which builds
    its StyleGAN2 generator by name) for a comparison; a no-op without the
    drop-in."""
    _register_replaced(0)
    try:
        yield
    finally:
        _register_replaced(1)


def restore_mmagic_models() -> None:
    """Every name ``replace_mmagic_model`` took builds MMagic's own class
    again, for good (e.g. a test process taking an imported drop-in back)."""
    _register_replaced(0)
    _replaced.clear()
