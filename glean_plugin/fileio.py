"""Atomic file writing: every output of the package and its tools goes
through ``atomic_open``, so a crash, a kill or a full disk never leaves a
truncated file under the final name, and new files get the mode that
``open()`` would give them (``0o666`` less the umask), not ``mkstemp``'s
``0o600``."""
import contextlib
import json
import math
import os
import os.path as osp
import uuid
from typing import IO, Any, Iterable, Iterator, List, Mapping

import numpy as np
import torch

__all__ = ['PARTIAL_SUFFIX', 'atomic_open', 'link_atomic', 'partial_files',
           'refuse_existing', 'replace_durable', 'to_builtin',
           'write_atomic', 'write_json_atomic']

# Temporary files are '.<name>.<random>.partial' beside their target: hidden,
# never matched by globs such as 'iter_*.pth', and found by ``partial_files``.
PARTIAL_SUFFIX = '.partial'
# Permissions of a new file before the umask (what open(path, 'w') uses).
NEW_FILE_MODE = 0o666
# Hex digits of the random part of a temporary name (no clash in practice).
_RANDOM_CHARS = 8
# The modes ``atomic_open`` writes with: a new whole file, text or binary.
_MODES = ('wb', 'w')


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (no-op where folders cannot be
    opened or synced, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _partial_name(path: str) -> str:
    """A new temporary name beside ``path`` (see ``PARTIAL_SUFFIX``)."""
    folder, name = osp.split(osp.abspath(path))
    return osp.join(folder, f'.{name}.{uuid.uuid4().hex[:_RANDOM_CHARS]}'
                    f'{PARTIAL_SUFFIX}')


@contextlib.contextmanager
def atomic_open(path: str, mode: str = 'wb') -> Iterator[IO]:
    """Open a temporary file beside ``path`` that replaces ``path`` when the
    ``with`` block succeeds.

    On success the file is flushed and fsynced, renamed onto ``path``
    (``os.replace``) and the folder is fsynced: ``path`` is always either
    the old or the whole new file, whenever the process dies. On any error
    the temporary file is removed and an existing ``path`` is untouched.

    The temporary file is created with mode ``0o666``, which the kernel
    reduces by the umask, as ``open()`` does: this gives ``0o666 & ~umask``
    without reading the umask (reading it means setting it, which races
    with other threads).

    Args:
        path (str): target file; its folder is created if needed.
        mode (str): ``'wb'`` (bytes) or ``'w'`` (UTF-8 text).

    Yields:
        file: the open temporary file.

    Raises:
        ValueError: another ``mode``.
    """
    if mode not in _MODES:
        raise ValueError('atomic_open writes with mode '
                         f'{" or ".join(map(repr, _MODES))}, got {mode!r}')
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = _partial_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
    try:
        text = {'encoding': 'utf-8'} if mode == 'w' else {}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``atomic_open``.

    Args:
        path (str): target file.
        data (bytes): the whole content.
    """
    with atomic_open(path, 'wb') as f:
        f.write(data)


def to_builtin(value: Any) -> Any:
    """Tensors / numpy values -> Python numbers, recursively (for JSON);
    non-finite floats become strings ('nan', 'inf')."""
    if isinstance(value, Mapping):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_builtin(v) for v in value]
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def refuse_existing(paths: Iterable[str], overwrite: bool) -> None:
    """Outputs are never replaced silently: unless ``overwrite``, raise
    ``FileExistsError`` naming those of ``paths`` that exist (nothing is
    written before this check)."""
    from .checkpoint import format_key_list
    existing = [p for p in paths if osp.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f'{len(existing)} output(s) exist: {format_key_list(existing)}; '
            'pass overwrite (--overwrite) to replace them')


def write_json_atomic(obj: Any, path: str) -> None:
    """Write ``obj`` as JSON through ``atomic_open`` (tensors and numpy
    values as Python numbers, see ``to_builtin``)."""
    with atomic_open(path, 'w') as f:
        json.dump(to_builtin(obj), f, indent=2)


def replace_durable(src: str, dst: str) -> None:
    """``os.replace(src, dst)`` (a file or a folder), then fsync ``dst``'s
    folder so that the rename survives a crash.

    Args:
        src (str): the complete file or folder, on ``dst``'s file system.
        dst (str): its final name; replaced if it is a file (or an empty
            folder).
    """
    os.replace(src, dst)
    _fsync_dir(osp.dirname(osp.abspath(dst)))


def link_atomic(src: str, path: str) -> None:
    """Hard-link ``src`` as ``path``, replacing ``path`` atomically.

    Args:
        src (str): an existing file.
        path (str): the new name; its folder must exist.

    Raises:
        OSError: hard links are not possible here (another file system, a
            file system without them); nothing is left behind.
    """
    tmp = _partial_name(path)
    os.link(src, tmp)
    try:
        replace_durable(tmp, path)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        raise


def partial_files(folder: str) -> List[str]:
    """Names of the temporary files that unfinished ``atomic_open`` calls
    (a killed process) left in ``folder``."""
    return sorted(n for n in os.listdir(folder)
                  if n.startswith('.') and n.endswith(PARTIAL_SUFFIX))
