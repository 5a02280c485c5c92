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
installed. Everything else goes through ``glean_plugin.serialization``: plain
pickles through its restricted unpickler (tensor, container and numpy
rebuilders only), ``torch.save`` files (rosinality's ``.pt``) through
``torch.load(weights_only=True)``; a file that asks for anything else is
refused with its name, and nothing in it is run.
"""
import argparse
import os.path as osp
import pickle
import zipfile
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..checkpoint import CheckpointMismatchError, incomplete_archive_hint
from ..fileio import atomic_open
from ..serialization import (UnsafeFileError, is_plain_pickle, load_pickle,
                             load_torch_file)

__all__ = ['PersistentObject', 'StandIn',
           'check_destination', 'load_stylegan2_source', 'module_state',
           'save_checkpoint']

# Packages of NVIDIA's code that pickles reference; replaced by stand-ins.
STAND_IN_PACKAGES = ('torch_utils', 'dnnlib')


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


def _stand_in_global(module: str, name: str):
    """A stand-in for ``module.name`` of torch_utils / dnnlib, else None."""
    if module.split('.')[0] in STAND_IN_PACKAGES:
        return _stand_in(module, name)
    return None


def _stand_in_globals(path: str) -> list:
    """``(stand-in, 'module.name')`` for each torch_utils / dnnlib global of
    a zip ``torch.save`` file (a network saved whole)."""
    if not zipfile.is_zipfile(path):
        return []
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # a malformed archive: torch.load says why
        return []
    pairs = []
    for full in names:
        module, _, name = full.rpartition('.')
        obj = _stand_in_global(module, name)
        if obj is not None:
            pairs.append((obj, full))
    return pairs


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
        if is_plain_pickle(path):
            return load_pickle(path, _stand_in_global,
                               buildable=(StandIn, StandInDict))
        return load_torch_file(path, [argparse.Namespace,
                                      *_stand_in_globals(path)])
    except UnsafeFileError:
        raise
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
