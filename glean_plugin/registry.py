"""The one place that knows about MMagic's registries and mmcv's compiled ops.

Importing this module first makes MMagic importable on an mmcv without
compiled ops (see ``compat``), then exposes MMagic's registries.
"""
from .compat import (allow_mmengine_checkpoint_globals,
                     install_mmcv_ext_placeholder)

install_mmcv_ext_placeholder()
allow_mmengine_checkpoint_globals()

from mmagic.registry import METRICS, MODELS  # noqa: E402
# The Runner looks wrappers up in mmengine's root registry by name (not in
# MMagic's child registry), so wrappers register there.
from mmengine.registry import MODEL_WRAPPERS  # noqa: E402

__all__ = ['METRICS', 'MODEL_WRAPPERS', 'MODELS']
