"""Make MMagic importable when mmcv has no compiled ops (``mmcv-lite``).

Every module under ``mmcv.ops`` loads ``mmcv._ext`` at import time and
``mmcv/ops/__init__`` imports them all, so ``import mmagic.models`` fails on an
mmcv without compiled ops. This module registers a placeholder ``mmcv._ext``
before MMagic is imported. Its functions exist (so ``load_ext``'s ``hasattr``
checks pass) but raise :class:`MissingCompiledOpError` naming the op when
called. Where a compiled ``mmcv._ext`` exists, nothing is changed.

It also allow-lists the types mmengine checkpoints hold for ``torch.load``'s
``weights_only`` mode (``allow_mmengine_checkpoint_globals``). This is the only
module of the plugin that knows about these compatibility concerns.
"""
import importlib.machinery
import importlib.util
import sys
import types
from typing import Callable, NoReturn

__all__ = ['MissingCompiledOpError', 'allow_mmengine_checkpoint_globals',
           'install_mmcv_ext_placeholder', 'mmcv_has_compiled_ops']

_EXT_NAME = 'mmcv._ext'


class MissingCompiledOpError(RuntimeError):
    """An mmcv op that only exists as compiled code was called."""


class _PlaceholderExt(types.ModuleType):
    """Stands in for ``mmcv._ext``; every attribute is an op that raises."""

    is_placeholder = True

    def __getattr__(self, name: str) -> Callable[..., NoReturn]:
        if name.startswith('__'):
            raise AttributeError(name)

        def missing_op(*args, **kwargs) -> NoReturn:
            raise MissingCompiledOpError(
                f"mmcv op '{name}' needs compiled mmcv (mmcv._ext), but the "
                'installed mmcv has no compiled ops (mmcv-lite, or a build '
                'without ops). glean_plugin itself never needs them: build '
                "the plugin's models (or use glean_plugin.dropin), or install "
                'an mmcv with compiled ops for this model.')

        missing_op.__name__ = name
        return missing_op


def _ext_is_placeholder() -> bool:
    return getattr(sys.modules.get(_EXT_NAME), 'is_placeholder', False)


def mmcv_has_compiled_ops() -> bool:
    """Whether a real compiled ``mmcv._ext`` is importable."""
    if _ext_is_placeholder():
        return False
    try:
        return importlib.util.find_spec(_EXT_NAME) is not None
    except ImportError:  # mmcv itself is not installed
        return False


def install_mmcv_ext_placeholder() -> bool:
    """Register the placeholder ``mmcv._ext`` when mmcv has no compiled ops.

    Returns:
        bool: True if the placeholder is in place (installed now or before),
        False if a real compiled ``mmcv._ext`` exists and nothing was done.
    """
    if _ext_is_placeholder():
        return True
    if mmcv_has_compiled_ops():
        return False
    module = _PlaceholderExt(_EXT_NAME)
    # mmengine's mmcv_full_available() calls pkgutil.find_loader('mmcv._ext'),
    # which reads __spec__; a module without one makes it raise.
    module.__spec__ = importlib.machinery.ModuleSpec(_EXT_NAME, loader=None)
    module.__file__ = '<glean_plugin placeholder for mmcv._ext>'
    sys.modules[_EXT_NAME] = module
    return True


def allow_mmengine_checkpoint_globals() -> None:
    """Allow-list what mmengine checkpoints hold for ``torch.load``.

    Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and
    refuses mmengine checkpoints (message hub ``HistoryBuffer``, numpy arrays
    and dtypes), which breaks ``--resume`` and ``tools/test.py``. Allow-listing
    these few types keeps the protection on for everything else.
    """
    import numpy as np
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer

    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:  # torch < 2.4 has no weights_only default to worry about
        return
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:
        from numpy.core import multiarray
    dtype_classes = [type(np.dtype(t)) for t in (
        np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8,
        np.bool_)]
    # HistoryBuffer pickles its statistics methods as getattr(buffer, name);
    # getattr's result is stored only, weights_only still refuses to call
    # anything that is not allow-listed.
    add([
        HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct,
        multiarray.scalar, getattr, *dtype_classes
    ])
