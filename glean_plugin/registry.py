"""The one place that knows about MMagic's registries and mmcv's compiled ops.

Importing this module first makes MMagic importable on an mmcv without
compiled ops (see ``compat``), then exposes MMagic's registries.
"""
from .compat import install_mmcv_ext_placeholder

install_mmcv_ext_placeholder()

from mmagic.registry import METRICS, MODELS  # noqa: E402

__all__ = ['METRICS', 'MODELS']
