"""The one place that knows about MMagic's registries and mmcv's compiled ops.

Importing this module first makes MMagic importable on an mmcv without
compiled ops (see ``compat``) and routes mmengine's checkpoint reads through
the restricted loaders (see ``serialization``), then exposes MMagic's
registries.
"""
from .compat import install_mmcv_ext_placeholder
from .serialization import install_mmengine_checkpoint_loaders

install_mmcv_ext_placeholder()
install_mmengine_checkpoint_loaders()

from mmagic.registry import METRICS, MODELS, OPTIMIZERS  # noqa: E402
# The Runner looks wrappers up in mmengine's root registry by name (not in
# MMagic's child registry), so wrappers register there. Hooks too: a hook in
# the root registry builds whatever the config's default_scope is.
from mmengine.registry import HOOKS, MODEL_WRAPPERS  # noqa: E402

__all__ = ['HOOKS', 'METRICS', 'MODEL_WRAPPERS', 'MODELS', 'OPTIMIZERS']
