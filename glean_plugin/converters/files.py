"""Reading StyleGAN2 checkpoints without their code, writing converted ones.

NVIDIA's stylegan2-ada-pytorch pickles hold their networks as objects of
``torch_utils.persistence`` classes (and ``dnnlib.EasyDict`` settings). Each
network is pickled as a call ``torch_utils.persistence.
_reconstruct_persistent_obj(meta)`` whose ``meta`` holds the class name,
the source code of its module and the object's ``__dict__`` (the
``nn.Module`` fields ``_parameters``, ``_buffers``, ``_modules``, ... and
attributes such as ``weight_gain``). The unpickler here resolves every
``torch_utils.*`` / ``dnnlib.*`` name to a stand-in that keeps that state
(it never runs the pickled source code), so neither package needs to be
installed. Other globals are resolved only if they are tensor, container or
numpy-scalar rebuilders (``torch._utils._rebuild_*``, ``collections.
OrderedDict``, ``numpy.core.multiarray.scalar``, ...): a pickle that needs
anything else is refused with its name. Still, open only files you trust.
"""
import importlib
import os.path as osp
import pickle
import types
import zipfile
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..checkpoint import CheckpointMismatchError, incomplete_archive_hint
from ..fileio import atomic_open

__all__ = ['PersistentObject', 'StandIn', 'StandInUnpickler',
           'check_destination', 'load_stylegan2_source', 'module_state',
           'save_checkpoint']

# Packages of NVIDIA's code that pickles reference; replaced by stand-ins.
STAND_IN_PACKAGES = ('torch_utils', 'dnnlib')
# What torch.save's legacy (non-zip) format pickles first.
LEGACY_TORCH_MAGIC = 0x1950a86a20f9469cfc6c

_SAFE_BUILTINS = frozenset({
    'set', 'frozenset', 'list', 'dict', 'tuple', 'slice', 'complex',
    'bytearray', 'bytes', 'int', 'float', 'bool', 'str', 'range', 'object'
})
# (module, name) pairs resolved as they are: containers and the rebuilders
# of tensors, parameters and argparse namespaces (rosinality's 'args').
_SAFE_GLOBALS = frozenset({
    ('collections', 'OrderedDict'), ('collections', 'defaultdict'),
    ('copyreg', '_reconstructor'), ('argparse', 'Namespace'),
    ('torch.storage', '_load_from_bytes'), ('torch.nn.parameter', 'Parameter'),
    ('torch._tensor', '_rebuild_from_type_v2'), ('torch', 'Size'),
    ('torch', 'device'), ('torch', 'Tensor'), ('_codecs', 'encode'),
})
_NUMPY_MODULES = ('numpy', 'numpy.core.multiarray', 'numpy._core.multiarray',
                  'numpy.dtypes')
_NUMPY_NAMES = frozenset({'scalar', '_reconstruct', 'ndarray', 'dtype'})


class StandIn:
    """Stand-in for a class of NVIDIA's ``torch_utils`` / ``dnnlib``.

    Keeps what unpickling gives it: constructor arguments (``args``,
    ``kwargs``) and state (``state``).
    """

    def __init__(self, *args, **kwargs) -> None:
        self.args = args
        self.kwargs = kwargs
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class StandInDict(dict):
    """Stand-in for ``dnnlib.EasyDict`` (a dict with attribute access)."""

    def __setstate__(self, state: Any) -> None:
        self.__dict__.update(state or {})


class PersistentObject:
    """Stand-in for an object of a ``torch_utils.persistence`` class.

    Attributes:
        class_name (str): the original class, e.g. 'Generator'.
        state (dict): its ``__dict__`` (for an ``nn.Module``:
            ``_parameters``, ``_buffers``, ``_modules``, attributes).
    """

    def __init__(self, meta: Mapping[str, Any]) -> None:
        self.class_name = str(meta.get('class_name', '?'))
        self.state = dict(meta.get('state') or {})

    def __repr__(self) -> str:
        return f'<persistent {self.class_name}>'


def _reconstruct_persistent_obj(meta: Mapping[str, Any]) -> PersistentObject:
    return PersistentObject(meta)


def _stand_in(module: str, name: str):
    """What ``module.name`` of torch_utils / dnnlib unpickles as."""
    if name == '_reconstruct_persistent_obj':
        return _reconstruct_persistent_obj
    if name == 'EasyDict':
        return StandInDict
    return type(name, (StandIn, ), {'__module__': module})


def _resolve(module: str, name: str):
    """``module.name``, imported."""
    return getattr(importlib.import_module(module), name)


def _safe_global(module: str, name: str):
    """The object a pickle may reference as ``module.name``, or None."""
    if ((module, name) in _SAFE_GLOBALS
            or (module == 'builtins' and name in _SAFE_BUILTINS)
            or (module == 'torch._utils' and name.startswith('_rebuild_'))):
        return _resolve(module, name)
    if module == 'torch':
        obj = getattr(torch, name, None)
        is_storage = isinstance(obj, type) and name.endswith('Storage')
        return obj if is_storage or isinstance(obj, torch.dtype) else None
    if module.startswith('torch.nn.modules.'):
        obj = _resolve(module, name)
        return obj if isinstance(obj, type) and issubclass(obj, nn.Module) \
            else None
    if module in _NUMPY_MODULES and (name in _NUMPY_NAMES
                                     or name.endswith('DType')):
        for candidate in (module, module.replace('numpy._core', 'numpy.core'),
                          module.replace('numpy.core', 'numpy._core')):
            try:
                return _resolve(candidate, name)
            except (ImportError, AttributeError):
                continue
    return None


class StandInUnpickler(pickle.Unpickler):
    """Unpickler that needs neither ``torch_utils`` nor ``dnnlib``.

    ``torch_utils.*`` / ``dnnlib.*`` names become stand-ins
    (``PersistentObject`` for persistent networks); tensor and container
    rebuilders resolve normally; any other global is refused.
    """

    def find_class(self, module: str, name: str):
        if module.split('.')[0] in STAND_IN_PACKAGES:
            return _stand_in(module, name)
        obj = _safe_global(module, name)
        if obj is None:
            raise pickle.UnpicklingError(
                f'the file references {module}.{name}; only tensors, '
                'containers, numpy scalars and the classes of NVIDIA\'s '
                'torch_utils/dnnlib (as stand-ins) are loaded')
        return obj


# ``torch.load(pickle_module=...)`` wants a module with Unpickler and load.
_PICKLE_MODULE = types.SimpleNamespace(
    Unpickler=StandInUnpickler,
    load=lambda f, **kw: StandInUnpickler(f, **kw).load(),
    __name__='glean_plugin.converters.files')


def load_stylegan2_source(path: str) -> Any:
    """Load a StyleGAN2 checkpoint of either source layout, on CPU.

    Args:
        path (str): a ``torch.save`` file (rosinality's ``.pt``, a state
            dict extracted from NVIDIA's networks) or a plain pickle
            (NVIDIA's ``network-snapshot-*.pkl``).

    Returns:
        Any: the unpickled object (dicts, tensors, ``PersistentObject``s).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointMismatchError: the file cannot be read, or needs code
            that is not loaded (the message names it).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'source checkpoint not found: {path!r}')
    incomplete = incomplete_archive_hint(path)
    if incomplete:
        raise CheckpointMismatchError(f'could not read {path!r}: {incomplete}')
    try:
        if not zipfile.is_zipfile(path):
            with open(path, 'rb') as f:
                obj = StandInUnpickler(f).load()
            if not (isinstance(obj, int) and obj == LEGACY_TORCH_MAGIC):
                return obj
        return torch.load(path, map_location='cpu', weights_only=False,
                          pickle_module=_PICKLE_MODULE)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError,
            TypeError, AttributeError, ImportError, KeyError) as err:
        raise CheckpointMismatchError(
            f'could not read {path!r}: {type(err).__name__}: {err}') from err


def _fields(obj: Any) -> Optional[Mapping[str, Any]]:
    if isinstance(obj, PersistentObject):
        return obj.state
    if isinstance(obj, nn.Module):
        return obj.__dict__
    return None


def _plain(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str, type(None), np.generic))


Attributes = Dict[str, Dict[str, Any]]


def module_state(obj: Any, what: str = 'network'
                 ) -> Tuple[Dict[str, torch.Tensor], Attributes]:
    """State dict and plain attributes of an unpickled network.

    Works on ``PersistentObject`` trees (NVIDIA's pickles) and on
    ``nn.Module`` trees alike, without calling any module code.

    Args:
        obj (PersistentObject | nn.Module): the network.
        what (str): its name, for the error message.

    Returns:
        tuple: ``state`` (key -> tensor, like ``state_dict()``) and
        ``attrs`` (module path -> {attribute: int/float/str/bool/None},
        e.g. ``attrs['mapping.fc0']['bias_gain']``).

    Raises:
        CheckpointMismatchError: ``obj`` is not a module.
    """
    state, attrs = {}, {}

    def visit(node: Any, prefix: str) -> None:
        fields = _fields(node)
        if fields is None or '_parameters' not in fields:
            raise CheckpointMismatchError(
                f'{what}{"." + prefix.rstrip(".") if prefix else ""} is a '
                f'{type(node).__name__}, not a torch module')
        skip = set(fields.get('_non_persistent_buffers_set') or ())
        for name, tensor in (fields.get('_parameters') or {}).items():
            if tensor is not None:
                state[prefix + name] = tensor.detach()
        for name, tensor in (fields.get('_buffers') or {}).items():
            if tensor is not None and name not in skip:
                state[prefix + name] = tensor.detach()
        attrs[prefix.rstrip('.')] = {
            k: v for k, v in fields.items()
            if not k.startswith('_') and k != 'training' and _plain(v)
        }
        for name, child in (fields.get('_modules') or {}).items():
            if child is not None:
                visit(child, f'{prefix}{name}.')

    visit(obj, '')
    return state, attrs


def check_destination(path: str, overwrite: bool = False,
                      source: Optional[str] = None) -> None:
    """Raise unless ``path`` may be written.

    Raises:
        FileExistsError: it exists and ``overwrite`` is False.
        ValueError: it is ``source`` or a directory.
    """
    if osp.isdir(path):
        raise ValueError(f'output {path!r} is a directory; give a file name')
    if (source is not None and osp.exists(path) and osp.exists(source)
            and osp.samefile(path, source)):
        raise ValueError(f'output {path!r} is the source checkpoint; give '
                         'another file name')
    if osp.exists(path) and not overwrite:
        raise FileExistsError(
            f'output {path!r} exists; pass --overwrite to replace it')


def save_checkpoint(checkpoint: Mapping[str, Any], path: str,
                    overwrite: bool = False) -> None:
    """``torch.save`` through ``atomic_open`` (the user's file mode, no
    half-written file).

    Args:
        checkpoint (Mapping): what to save.
        path (str): destination; its folder is created if needed.
        overwrite (bool): replace an existing file. Default: False.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False (checked
            before and again after writing).
    """
    check_destination(path, overwrite)
    with atomic_open(path) as f:
        torch.save(dict(checkpoint), f)
        check_destination(path, overwrite)
