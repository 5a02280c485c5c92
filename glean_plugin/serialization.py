"""Reading files from outside without running their code.

Checkpoints and network pickles come from model zoos, forums and colleagues:
a pickle can call any function it names, so every file the plugin opens is
read through one of two restricted unpicklers, and nothing else:

- ``torch.save`` files (zip or legacy) and the serialized storages nested in
  plain pickles: ``torch.load(weights_only=True)``, PyTorch's restricted
  unpickler, with the few extra globals a caller needs added only while that
  one file is read (:func:`load_torch_file`).
- plain pickles (NVIDIA's ``network-snapshot-*.pkl``): :class:`
  RestrictedUnpickler`, which resolves only tensor, container and numpy
  rebuilders plus what its caller allows (the converters' stand-ins), and
  builds state only into instances of those classes (never into a class, a
  function or a module).

mmengine's checkpoints (``--resume``, ``load_from``, ``tools/test.py``,
``init_cfg`` ``Pretrained``) hold a message hub whose ``HistoryBuffer`` pickles
its statistics methods as ``getattr(HistoryBuffer, 'mean')``.
:func:`install_mmengine_checkpoint_loaders` wraps mmengine's checkpoint
loaders so that, only while one of them reads a file, ``HistoryBuffer``
(checked: its state may name only its own statistics methods), numpy arrays,
scalars and dtypes, and a ``getattr`` that returns nothing but those methods
are allowed. ``torch.serialization.get_safe_globals()`` is never changed for
longer than one read.

A refused file raises :class:`UnsafeFileError`, one line naming what the file
asked for.
"""
import argparse
import builtins
import collections
import contextlib
import copyreg
import functools
import importlib
import io
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Tuple

import numpy as np
import torch

from .checkpoint import (CheckpointMismatchError, UnsafeFileError,
                         incomplete_archive_hint, with_hash_check)

__all__ = ['RestrictedUnpickler', 'UnsafeFileError',
           'file_kind', 'install_mmengine_checkpoint_loaders',
           'is_plain_pickle',
           'load_from_local',
           'load_pickle',
           'load_torch_file', 'mmengine_checkpoint_globals',
           'reading_mmengine_checkpoints']

# What the refusal messages say is loaded.
LOADED = 'tensors, containers, numpy arrays and scalars'
# A legacy torch.save file begins with its magic number, pickled.
LEGACY_TORCH_MAGIC = 0x1950a86a20f9469cfc6c
LEGACY_TORCH_HEAD = pickle.dumps(LEGACY_TORCH_MAGIC, protocol=2)[:-1]
# torch's restricted unpickler puts its own reason after this marker.
_TORCH_REASON = 'WeightsUnpickler error:'
_TORCH_GLOBAL = re.compile(r'GLOBAL (\S+) (?:was not|whose module)')
_TORCH_FUNCTION = re.compile(
    r'unrecognized function (.+?)(?: which belongs|$)', re.MULTILINE)
# HistoryBuffer's own statistics (mmengine registers these four itself).
HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')
_HISTORY_FIELDS = {'_log_history': np.ndarray, '_count_history': np.ndarray,
                   'max_length': int}
_HISTORY_BUFFER = 'mmengine.logging.history_buffer.HistoryBuffer'
# Marks a wrapped mmengine loader (installing twice must not wrap twice).
_WRAPPED = '_glean_plugin_restricted'


def _refusal(source: str, what: str) -> UnsafeFileError:
    """The one-line refusal; ``what`` is kept as the error's ``what``."""
    err = UnsafeFileError(
        f'refused to load {source}: it asks for {what}, which is never loaded '
        f'from a file (only {LOADED}). The file may be malicious; nothing in '
        'it was run')
    err.what = what
    return err


def _describe(source: Any) -> str:
    return repr(source) if isinstance(source, str) else 'the file'


# --------------------------------------------------------------------------- #
# torch.save files: torch's restricted unpickler, extra globals for one read
# --------------------------------------------------------------------------- #
def _torch_reason(err: BaseException) -> str:
    """What torch's restricted unpickler refused, in a few words (its
    message is several paragraphs of advice around one line of reason)."""
    text = str(err)
    found = _TORCH_GLOBAL.search(text)
    if found:
        return f'the global {found.group(1)}'
    found = _TORCH_FUNCTION.search(text)
    if found:
        return f'a call of {found.group(1)}'
    if _TORCH_REASON in text:
        text = text.split(_TORCH_REASON, 1)[1]
    elif '\n\n' in text:  # the advice comes first
        text = text.split('\n\n', 1)[1]
    lines = [line.strip() for line in text.strip().splitlines()]
    return next((line for line in lines if line), text).rstrip('.')


def _unsafe_globals(source: Any) -> Tuple[str, ...]:
    """Globals of a zip ``torch.save`` file that are not allowed now."""
    if not (isinstance(source, str) and zipfile.is_zipfile(source)):
        return ()
    try:
        return tuple(sorted(
            torch.serialization.get_unsafe_globals_in_checkpoint(source)))
    except Exception:  # a malformed archive: torch.load says why
        return ()


def load_torch_file(source: Any,
                    extra_globals: Iterable = (),
                    map_location: Any = 'cpu') -> Any:
    """``torch.load(weights_only=True)`` with ``extra_globals`` allowed for
    this read only, and one clear error for a refused file.

    Args:
        source (str | file): a ``torch.save`` file (zip or legacy format).
        extra_globals (Iterable): what ``torch.serialization.safe_globals``
            takes: objects, or ``(object, 'module.name')`` pairs.
        map_location: as ``torch.load``. Default: 'cpu'.

    Returns:
        Any: the loaded object.

    Raises:
        UnsafeFileError: the file asks for something not allowed (named).
        CheckpointMismatchError: a plain pickle or no pickle at all, not a
            ``torch.save`` file.
        Exception: what ``torch.load`` raises for a file it cannot read.
    """
    kind = file_kind(source) if isinstance(source, str) else None
    if kind == 'pickle':
        raise CheckpointMismatchError(
            f'{source!r} is a plain pickle, not a torch.save checkpoint; '
            'plain pickles (NVIDIA network pickles) are read only by '
            'tools/convert_stylegan2.py')
    if kind == 'other':
        why = incomplete_archive_hint(source) or (
            'it is not a torch.save file (neither a zip archive nor a legacy '
            'torch.save file)')
        raise CheckpointMismatchError(
            f'could not read checkpoint {source!r}: {why}')
    with torch.serialization.safe_globals(list(extra_globals)):
        try:
            return torch.load(source, map_location=map_location,
                              weights_only=True)
        except pickle.UnpicklingError as err:
            names = _unsafe_globals(source)
            what = (f'the global{"s" if len(names) > 1 else ""} '
                    f'{", ".join(names)}' if names else _torch_reason(err))
            raise _refusal(_describe(source), what) from None


def file_kind(path: str) -> str:
    """'zip' or 'legacy' (``torch.save`` formats), 'pickle' (a plain
    pickle) or 'other' (not a pickle at all), from the file's first bytes."""
    if zipfile.is_zipfile(path):
        return 'zip'
    with open(path, 'rb') as f:
        head = f.read(len(LEGACY_TORCH_HEAD))
    if head == LEGACY_TORCH_HEAD:
        return 'legacy'
    return 'pickle' if head[:1] == pickle.PROTO else 'other'


def is_plain_pickle(path: str) -> bool:
    """Whether ``path`` is a pickle that is not a ``torch.save`` file."""
    return file_kind(path) == 'pickle'


def _load_nested_storage(data: bytes) -> Any:
    """Stands in for ``torch.storage._load_from_bytes`` (which torch runs
    with ``weights_only=False``): the nested file is read restricted too."""
    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError(
            f'a nested storage must be bytes, got {type(data).__name__}')
    return load_torch_file(io.BytesIO(bytes(data)))


# --------------------------------------------------------------------------- #
# plain pickles
# --------------------------------------------------------------------------- #
_BUILTINS = ('set', 'frozenset', 'list', 'dict', 'tuple', 'slice', 'complex',
             'bytearray', 'bytes', 'int', 'float', 'bool', 'str', 'range',
             'object')
_TORCH_REBUILDERS = ('_rebuild_tensor', '_rebuild_tensor_v2',
                     '_rebuild_tensor_v3', '_rebuild_parameter',
                     '_rebuild_parameter_with_state',
                     '_rebuild_device_tensor_from_numpy')
_NUMPY_MODULES = ('numpy', 'numpy.core.multiarray', 'numpy._core.multiarray',
                  'numpy.dtypes')
_NUMPY_NAMES = ('scalar', '_reconstruct', 'ndarray', 'dtype')


def _check_state_keys(state: Any) -> None:
    """Refuse object state that would set dunder attributes."""
    parts = state if isinstance(state, tuple) else (state, )
    for part in parts:
        if isinstance(part, dict):
            for key in part:
                if not isinstance(key, str) or key.startswith('__'):
                    raise pickle.UnpicklingError(
                        f'object state that sets {key!r}')


@functools.wraps(torch._tensor._rebuild_from_type_v2)
def _rebuild_from_type_v2(func, new_type, args, state):
    if not (isinstance(new_type, type) and issubclass(new_type, torch.Tensor)):
        raise pickle.UnpicklingError(f'a tensor of type {new_type!r}')
    _check_state_keys(state)
    return torch._tensor._rebuild_from_type_v2(func, new_type, args, state)


@functools.wraps(torch._utils._rebuild_parameter_with_state)
def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    _check_state_keys(state)
    return torch._utils._rebuild_parameter_with_state(
        data, requires_grad, backward_hooks, state)


def _encode(text: str, encoding: str = 'latin1') -> bytes:
    """``_codecs.encode`` as protocol 2 pickles use it for bytes."""
    if encoding not in ('latin1', 'latin-1'):
        raise pickle.UnpicklingError(f'bytes in encoding {encoding!r}')
    return text.encode('latin1')


def _base_globals() -> Dict[Tuple[str, str], Any]:
    """(module, name) -> object of what every plain pickle may use."""
    table: Dict[Tuple[str, str], Any] = {
        ('builtins', name): getattr(builtins, name) for name in _BUILTINS
    }
    table.update({
        ('collections', 'OrderedDict'): collections.OrderedDict,
        ('collections', 'defaultdict'): collections.defaultdict,
        ('copyreg', '_reconstructor'): copyreg._reconstructor,
        ('argparse', 'Namespace'): argparse.Namespace,
        ('_codecs', 'encode'): _encode,
        ('torch.storage', '_load_from_bytes'): _load_nested_storage,
        ('torch._tensor', '_rebuild_from_type_v2'): _rebuild_from_type_v2,
        ('torch.nn.parameter', 'Parameter'): torch.nn.Parameter,
        ('torch', 'Size'): torch.Size,
        ('torch', 'device'): torch.device,
        ('torch', 'Tensor'): torch.Tensor,
    })
    for name in _TORCH_REBUILDERS:
        table['torch._utils', name] = getattr(torch._utils, name)
    table['torch._utils', '_rebuild_parameter_with_state'] = \
        _rebuild_parameter_with_state
    for name in dir(torch):
        obj = getattr(torch, name, None)
        if isinstance(obj, torch.dtype) or (
                isinstance(obj, type) and name.endswith('Storage')):
            table['torch', name] = obj
    return table


def _numpy_global(module: str, name: str) -> Optional[Any]:
    """numpy's array, dtype and scalar rebuilders, under either module name
    (numpy 1 writes ``numpy.core``, numpy 2 ``numpy._core``)."""
    if module not in _NUMPY_MODULES or not (name in _NUMPY_NAMES
                                            or name.endswith('DType')):
        return None
    for candidate in (module, module.replace('numpy._core', 'numpy.core'),
                      module.replace('numpy.core', 'numpy._core')):
        try:
            obj = getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
        if callable(obj):
            return obj
    return None


_BASE_GLOBALS: Optional[Dict[Tuple[str, str], Any]] = None
# Instances whose state a pickle may set (besides the caller's classes).
_BUILDABLE = (torch.Tensor, collections.OrderedDict, argparse.Namespace,
              np.ndarray, np.dtype)


class RestrictedUnpickler(pickle._Unpickler):
    """A pickle reader that runs nothing the file chooses.

    Globals resolve only to tensor, container and numpy rebuilders (nested
    serialized storages are read with ``torch.load(weights_only=True)``),
    or to what ``resolve`` returns for them. State (pickle's BUILD) is set
    only on instances of the resolved classes and never sets dunder
    attributes; a class, function or module cannot be changed.

    This is the pure-Python unpickler of the standard library with its
    BUILD step replaced (the C unpickler's BUILD cannot be restricted).

    Args:
        file: binary file to read.
        resolve (callable, optional): ``(module, name) -> object or None``
            for globals beyond the base set (e.g. stand-in classes).
        buildable (tuple[type]): further classes whose instances may get
            state.
        source (str): the file, for messages.
    """

    def __init__(self, file,
                 resolve: Optional[Callable[[str, str], Any]] = None,
                 buildable: Tuple[type, ...] = (), source: str = 'the file'
                 ) -> None:
        super().__init__(file)
        self._resolve = resolve
        self._buildable = _BUILDABLE + tuple(buildable)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        global _BASE_GLOBALS
        if _BASE_GLOBALS is None:
            _BASE_GLOBALS = _base_globals()
        obj = _BASE_GLOBALS.get((module, name))
        if obj is None:
            obj = _numpy_global(module, name)
        if obj is None and self._resolve is not None:
            obj = self._resolve(module, name)
        if obj is None:
            raise _refusal(repr(self.source), f'the global {module}.{name}')
        return obj

    def load(self) -> Any:
        """The first pickled object (see ``pickle.Unpickler.load``)."""
        try:
            return super().load()
        except UnsafeFileError as err:
            if not str(err).startswith('refused to load the file'):
                raise
            raise _refusal(f'{self.source!r} (a serialized storage inside it)',
                           getattr(err, 'what', str(err))) from None

    def persistent_load(self, pid: Any) -> Any:
        raise _refusal(repr(self.source), 'a persistent id')

    def _load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, type) or not isinstance(inst, self._buildable):
            raise _refusal(repr(self.source),
                           f'setting the state of {type(inst).__name__} '
                           f'{inst!r:.60}')
        try:
            _check_state_keys(state)
        except pickle.UnpicklingError as err:
            raise _refusal(repr(self.source), str(err)) from None
        self.stack.append(state)
        pickle._Unpickler.load_build(self)

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = _load_build


def load_pickle(source: str,
                resolve: Optional[Callable[[str, str], Any]] = None,
                buildable: Tuple[type, ...] = ()) -> Any:
    """Read a plain pickle file with :class:`RestrictedUnpickler`.

    Args:
        source (str): the file.
        resolve, buildable: see :class:`RestrictedUnpickler`.

    Returns:
        Any: the first pickled object.

    Raises:
        UnsafeFileError: the file asks for something not allowed (named).
    """
    with open(source, 'rb') as f:
        return RestrictedUnpickler(f, resolve, buildable, source).load()


# --------------------------------------------------------------------------- #
# mmengine checkpoints
# --------------------------------------------------------------------------- #
def _history_buffer_types() -> Tuple[type, type]:
    """mmengine's HistoryBuffer and its checked stand-in for unpickling."""
    from mmengine.logging.history_buffer import HistoryBuffer

    global _CHECKED_HISTORY_BUFFER
    if _CHECKED_HISTORY_BUFFER is None:

        class CheckedHistoryBuffer(HistoryBuffer):
            """Unpickles as a ``HistoryBuffer`` whose state holds only its
            history arrays, its length and its own statistics methods
            (``HistoryBuffer.__setstate__`` copies the methods it is given
            into a class-level table that mmengine calls later)."""

            def __setstate__(self, state: Any) -> None:
                _check_history_state(state, HistoryBuffer)
                self.__class__ = HistoryBuffer
                HistoryBuffer.__setstate__(self, dict(state))

        CheckedHistoryBuffer.__qualname__ = HistoryBuffer.__qualname__
        CheckedHistoryBuffer.__module__ = HistoryBuffer.__module__
        _CHECKED_HISTORY_BUFFER = CheckedHistoryBuffer
    return HistoryBuffer, _CHECKED_HISTORY_BUFFER


_CHECKED_HISTORY_BUFFER: Optional[type] = None


def _check_history_state(state: Any, history_buffer: type) -> None:
    if not isinstance(state, dict):
        raise pickle.UnpicklingError(
            f'a HistoryBuffer state of type {type(state).__name__}')
    for key, value in state.items():
        if key == 'statistics_methods':
            if not isinstance(value, dict):
                raise pickle.UnpicklingError(
                    'HistoryBuffer statistics that are not a dict')
            for name, method in value.items():
                if name not in HISTORY_STATISTICS or \
                        method is not getattr(history_buffer, name):
                    raise pickle.UnpicklingError(
                        f'HistoryBuffer statistics method {name!r} = '
                        f'{method!r:.80}')
        elif key not in _HISTORY_FIELDS or \
                not isinstance(value, _HISTORY_FIELDS[key]):
            raise pickle.UnpicklingError(
                f'HistoryBuffer field {key!r} of type {type(value).__name__}')


def _statistics_getattr(obj: Any, name: Any, *default: Any) -> Any:
    """Stands in for ``getattr`` in mmengine checkpoints: only a
    HistoryBuffer's own statistics methods can be named."""
    history_buffer, checked = _history_buffer_types()
    if obj in (history_buffer, checked) and name in HISTORY_STATISTICS \
            and not default:
        return getattr(history_buffer, name)
    raise pickle.UnpicklingError(
        f'getattr({obj!r:.60}, {name!r:.60}) (only HistoryBuffer.'
        f'{"/".join(HISTORY_STATISTICS)} are allowed)')


def mmengine_checkpoint_globals() -> list:
    """What mmengine checkpoints hold beyond tensors and containers, for
    ``torch.serialization.safe_globals`` while one is read."""
    _, checked = _history_buffer_types()
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:
        from numpy.core import multiarray
    dtype_classes = [type(np.dtype(t)) for t in (
        np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8,
        np.bool_)]
    return [(checked, _HISTORY_BUFFER),
            (_statistics_getattr, 'builtins.getattr'), np.ndarray, np.dtype,
            multiarray._reconstruct, multiarray.scalar, *dtype_classes]


@contextlib.contextmanager
def reading_mmengine_checkpoints(source: str = 'the checkpoint'
                                 ) -> Iterator[None]:
    """Allow what mmengine checkpoints need, for the block only; a refused
    file raises :class:`UnsafeFileError` naming what it asked for.

    Args:
        source (str): the file, for the message.
    """
    with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
        try:
            yield
        except pickle.UnpicklingError as err:
            raise _refusal(source, _torch_reason(err)) from None


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """mmengine's local checkpoint loader, restricted (see module).

    mmengine logs the loader's name after ``load_from_``.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return load_torch_file(filename, mmengine_checkpoint_globals(),
                           map_location)


setattr(load_from_local, _WRAPPED, True)


def _restricted(loader: Callable) -> Callable:
    """An mmengine scheme loader run inside
    ``reading_mmengine_checkpoints``."""

    @functools.wraps(loader)
    def wrapped(filename, map_location=None, *args, **kwargs):
        with reading_mmengine_checkpoints(repr(filename)):
            return loader(filename, map_location, *args, **kwargs)

    setattr(wrapped, _WRAPPED, True)
    return wrapped


def install_mmengine_checkpoint_loaders() -> None:
    """Route every checkpoint mmengine reads through the restricted loaders.

    The local loader becomes :func:`load_torch_file` with
    :func:`mmengine_checkpoint_globals`; every other scheme (http, s3, ...)
    runs inside :func:`reading_mmengine_checkpoints`. Idempotent.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    # mmengine keeps its loaders in this table only (no public listing).
    schemes = dict(CheckpointLoader._schemes)
    for prefix, loader in schemes.items():
        if getattr(loader, _WRAPPED, False):
            continue
        new = load_from_local if prefix == '' else _restricted(loader)
        CheckpointLoader.register_scheme(prefix, with_hash_check(new),
                                         force=True)

