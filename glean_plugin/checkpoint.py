"""Reading state dicts out of checkpoint files, with errors that say what
is wrong."""
import copy
import functools
import hashlib
import os.path as osp
import re
import zipfile
from typing import Any, Callable, Dict, Iterable, Mapping, Optional
from urllib.parse import urlparse

import torch
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ['CheckpointHashError', 'CheckpointMismatchError', 'UnsafeFileError',
           'check_hash_suffix', 'file_sha256', 'hash_suffix',
           'init_weights_strict', 'keys_under', 'load_state_dict_from_file',
           'check_state_dict', 'format_key_list', 'incomplete_archive_hint',
           'mismatch_error', 'with_hash_check']

# How many key names an error message lists before summarising.
MAX_LISTED_KEYS = 8
# torch.save files (since torch 1.6) are zip archives; their directory is at
# the end, so a truncated one starts as a zip but is not a valid one.
ZIP_MAGIC = b'PK\x03\x04'
# OpenMMLab's model-zoo names end in '-' and the first 8 hex digits (lower
# case) of the file's sha256, before the extension:
# glean_cat_8x_20210614-d3ac8683.pth. Other names are not checked.
HASH_SUFFIX = re.compile(r'-([0-9a-f]{8})\.[A-Za-z0-9]+$')
# Files are hashed in pieces of this size (never read whole into memory).
HASH_CHUNK_BYTES = 1 << 20


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the module it is loaded into."""


class UnsafeFileError(CheckpointMismatchError):
    """A file asks for code (a global, a call, a state) that is never loaded
    from files (see ``glean_plugin.serialization``)."""


class CheckpointHashError(CheckpointMismatchError):
    """A checkpoint's content does not have the sha256 its name carries (a
    truncated or wrong download)."""


def format_key_list(keys: Iterable[str]) -> str:
    """First few keys, sorted, and how many more there are."""
    keys = sorted(keys)
    shown = ', '.join(keys[:MAX_LISTED_KEYS])
    more = len(keys) - MAX_LISTED_KEYS
    return shown + (f' ... and {more} more' if more > 0 else '')


def incomplete_archive_hint(path: str) -> str:
    """A sentence for a local file that starts as a torch.save (zip) archive
    but is not a complete one (a truncated download or copy), else ''."""
    try:
        with open(path, 'rb') as f:
            head = f.read(len(ZIP_MAGIC))
    except OSError:
        return ''
    if head != ZIP_MAGIC or zipfile.is_zipfile(path):
        return ''
    return ('the file is incomplete: it starts as a torch.save archive but '
            'its end is missing or corrupt (an interrupted download, copy or '
            'save?)')


def hash_suffix(filename: str) -> Optional[str]:
    """The sha256 prefix an OpenMMLab model-zoo file name carries, or None.

    Args:
        filename (str): a path or URL; only its last component counts.

    Returns:
        str | None: the 8 lower-case hex digits between the last '-' and
        the extension (``..._20210614-d3ac8683.pth`` -> ``'d3ac8683'``);
        None for other names (upper case or another number of digits).
    """
    if '://' in filename:
        filename = urlparse(filename).path
    found = HASH_SUFFIX.search(osp.basename(filename))
    return found.group(1) if found else None


def file_sha256(path: str) -> str:
    """Hex sha256 of a file, read in ``HASH_CHUNK_BYTES`` pieces."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(functools.partial(f.read, HASH_CHUNK_BYTES), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _local_copy(filename: str) -> Optional[str]:
    """The file mmengine reads for ``filename``: the path itself; for an
    http(s) URL, its copy in torch's hub cache (where mmengine's
    ``load_from_http`` downloads to and reads from); None for other
    schemes."""
    if filename.startswith(('http://', 'https://')):
        return osp.join(torch.hub.get_dir(), 'checkpoints',
                        osp.basename(urlparse(filename).path))
    if '://' in filename:
        return None
    return osp.expanduser(filename)


def check_hash_suffix(filename: str) -> bool:
    """Check that a hash-named checkpoint is the file its name promises.

    A name with OpenMMLab's suffix (see :func:`hash_suffix`) must belong
    to a file whose sha256 starts with those digits. The file is hashed in
    pieces before anything reads it as a checkpoint. For an http(s) URL the
    copy in torch's hub cache is checked, when there is one.

    Args:
        filename (str): a checkpoint path or URL, as mmengine takes it.

    Returns:
        bool: whether a file was checked (False for names without the
        suffix, URLs not downloaded yet and other schemes).

    Raises:
        CheckpointHashError: the file's sha256 does not start with the
            digits in its name; the message names the file and both hashes.
    """
    expected = hash_suffix(filename)
    path = _local_copy(filename) if expected else None
    if path is None or not osp.isfile(path):
        return False
    actual = file_sha256(path)
    if not actual.startswith(expected):
        copy = '' if path == filename else f' (downloaded from {filename!r})'
        raise CheckpointHashError(
            f'checkpoint {path!r}{copy} is not the file its name promises: '
            f'the name carries sha256 prefix {expected}, the file\'s sha256 '
            f'is {actual} ({osp.getsize(path)} bytes). A truncated or wrong '
            'download? Delete the file and download it again')
    return True


def with_hash_check(loader: Callable[..., Any]) -> Callable[..., Any]:
    """An mmengine checkpoint loader (``CheckpointLoader`` scheme) that runs
    :func:`check_hash_suffix` on its file before loading it, and on the
    downloaded copy after a download.

    Args:
        loader (callable): ``loader(filename, map_location, ...)``.

    Returns:
        callable: the checking loader (same name and attributes).
    """

    @functools.wraps(loader)
    def checked(filename, *args, **kwargs):
        was_checked = check_hash_suffix(filename)
        checkpoint = loader(filename, *args, **kwargs)
        if not was_checked and '://' in filename:
            check_hash_suffix(filename)  # the call downloaded it
        return checkpoint

    return checked


def load_state_dict_from_file(path: str,
                              prefix: Optional[str] = None,
                              map_location: str = 'cpu'
                              ) -> Dict[str, torch.Tensor]:
    """Load a checkpoint (local path or URL) and return its state dict.

    Args:
        path (str): checkpoint file or URL (mmengine ``CheckpointLoader``).
        prefix (str, optional): keep only keys under ``prefix.``, stripped.
        map_location (str): where tensors are loaded. Default: 'cpu'.

    Returns:
        dict[str, Tensor]: the (prefix-stripped) state dict.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointMismatchError: the file is not a checkpoint, or has no key
            under ``prefix``.
    """
    try:
        ckpt = CheckpointLoader.load_checkpoint(path,
                                                map_location=map_location)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'checkpoint not found: {path!r}. Download it (e.g. from the '
            'MMagic model zoo) and give its local path; no network access '
            'is assumed.') from err
    except CheckpointMismatchError:  # refused, or not a checkpoint
        raise
    except Exception as err:  # torch.load / pickle / download failures
        hint = ''
        incomplete = incomplete_archive_hint(path)
        if incomplete:
            hint = f'; {incomplete}'
        elif '://' in path and not path.startswith('file://'):
            cached = osp.join(torch.hub.get_dir(), 'checkpoints',
                              osp.basename(path))
            hint = (f'. Offline, download it elsewhere and place it at '
                    f'{cached} (read from there without downloading), or '
                    'give a local path')
        raise CheckpointMismatchError(
            f'could not read checkpoint {path!r}: {type(err).__name__}: '
            f'{err}{hint}') from err
    if isinstance(ckpt, Mapping) and 'state_dict' in ckpt:
        ckpt = ckpt['state_dict']
    if not isinstance(ckpt, Mapping):
        raise CheckpointMismatchError(
            f'checkpoint {path!r} holds a {type(ckpt).__name__}, expected a '
            'dict of tensors (or a dict with a "state_dict" entry)')
    return keys_under(ckpt, prefix, path) if prefix else dict(ckpt)


def keys_under(state: Mapping[str, Any], prefix: str,
               source: str) -> Dict[str, Any]:
    """The entries of ``state`` under ``prefix.``, with the prefix stripped.

    Raises:
        CheckpointMismatchError: nothing is under ``prefix``; the message
            names ``source`` (the checkpoint) and the prefixes it has.
    """
    head = prefix.rstrip('.') + '.'
    selected = {k[len(head):]: v for k, v in state.items()
                if k.startswith(head)}
    if not selected:
        prefixes = sorted({k.split('.', 1)[0] for k in state})
        raise CheckpointMismatchError(
            f'checkpoint {source!r} has no key under prefix {prefix!r}; its '
            f'top-level prefixes are: {format_key_list(prefixes)}')
    return selected


def check_state_dict(state: Mapping[str, torch.Tensor],
                     expected: Mapping[str, torch.Tensor], what: str,
                     source: str) -> None:
    """Raise unless ``state`` has exactly the keys and shapes of ``expected``.

    Args:
        state (Mapping): the state dict to be loaded.
        expected (Mapping): the target module's ``state_dict()``.
        what (str): name of the target, for the message.
        source (str): where ``state`` came from, for the message.

    Raises:
        CheckpointMismatchError: listing missing, unexpected and mismatched
            keys.
    """
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    mismatched = [
        f'{k} (checkpoint {tuple(state[k].shape)}, expected '
        f'{tuple(expected[k].shape)})' for k in set(state) & set(expected)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or mismatched:
        raise mismatch_error(f'{source} does not match the {what}:', missing,
                             unexpected, mismatched, total=len(expected))


def mismatch_error(header: str,
                   missing: Iterable[str],
                   unexpected: Iterable[str],
                   mismatched: Iterable[str],
                   total: Optional[int] = None,
                   hint: str = '') -> CheckpointMismatchError:
    """A ``CheckpointMismatchError`` listing what does not fit.

    Args:
        header (str): first line, e.g. "x.pth does not match the generator:".
        missing, unexpected, mismatched (Iterable[str]): keys (mismatched
            ones with their shapes).
        total (int, optional): number of expected keys, shown with missing.
        hint (str): last line, if any.

    Returns:
        CheckpointMismatchError: to be raised by the caller.
    """
    missing, unexpected, mismatched = (list(missing), list(unexpected),
                                       list(mismatched))
    lines = [header]
    if missing:
        of = f' of {total}' if total is not None else ''
        lines.append(f'  missing {len(missing)}{of} keys: '
                     f'{format_key_list(missing)}')
    if unexpected:
        lines.append(f'  unexpected {len(unexpected)} keys: '
                     f'{format_key_list(unexpected)}')
    if mismatched:
        lines.append(f'  shape mismatch in {len(mismatched)} keys: '
                     f'{format_key_list(mismatched)}')
    if hint:
        lines.append(f'  {hint}')
    return CheckpointMismatchError('\n'.join(lines))


def init_weights_strict(module,
                        load_pretrained: Callable[[dict], None]) -> None:
    """mmengine ``init_weights`` with ``Pretrained`` entries loaded strictly.

    mmengine's ``PretrainedInit`` loads non-strictly and only logs what did
    not match. This runs every other ``init_cfg`` entry through mmengine and
    hands each ``Pretrained`` entry to ``load_pretrained`` instead.

    Args:
        module (BaseModule): the module whose ``init_cfg`` is applied
            (its own ``init_weights`` must not be what calls mmengine's).
        load_pretrained (callable): called with each ``Pretrained`` entry
            (which must name a ``checkpoint``).

    Raises:
        ValueError: a ``Pretrained`` entry without ``checkpoint``.
    """
    cfgs = module.init_cfg
    cfgs = [] if cfgs is None else (
        list(cfgs) if isinstance(cfgs, (list, tuple)) else [cfgs])
    pretrained = [c for c in cfgs if c.get('type') == 'Pretrained']
    for cfg in pretrained:
        if not cfg.get('checkpoint'):
            raise ValueError("init_cfg of type 'Pretrained' needs a "
                             f"'checkpoint', got {cfg}")
    original = module.init_cfg
    module.init_cfg = copy.deepcopy(
        [c for c in cfgs if c.get('type') != 'Pretrained']) or None
    try:
        BaseModule.init_weights(module)
    finally:
        module.init_cfg = original
    for cfg in pretrained:
        load_pretrained(cfg)
