"""Make MMagic importable when mmcv has no compiled ops (``mmcv-lite``).

Every module under ``mmcv.ops`` loads ``mmcv._ext`` at import time and
``mmcv/ops/__init__`` imports them all, so ``import mmagic.models`` fails on an
mmcv without compiled ops. This module registers a placeholder ``mmcv._ext``
before MMagic is imported. Its functions exist (so ``load_ext``'s ``hasattr``
checks pass) but raise :class:`MissingCompiledOpError` naming the op when
called. Where a compiled ``mmcv._ext`` exists, nothing is changed.

This is the only module of the plugin that knows about mmcv's compiled ops
(what mmengine checkpoints need from ``torch.load`` is ``serialization``'s).
"""
import importlib.machinery
import importlib.util
import sys
import types
from typing import Callable, NoReturn

__all__ = ['MissingCompiledOpError', 'install_mmcv_ext_placeholder',
           'mmcv_has_compiled_ops']

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
