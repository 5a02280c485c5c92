"""Reading state dicts out of checkpoint files, with errors that say what is wrong."""
import copy
import os.path as osp
import zipfile
from typing import Callable, Dict, Iterable, Mapping, Optional

import torch
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ['CheckpointMismatchError', 'UnsafeFileError', 'init_weights_strict',
           'load_state_dict_from_file', 'check_state_dict', 'format_key_list',
           'incomplete_archive_hint', 'mismatch_error']

# How many key names an error message lists before summarising.
MAX_LISTED_KEYS = 8
# torch.save files (since torch 1.6) are zip archives; their directory is at
# the end, so a truncated one starts as a zip but is not a valid one.
ZIP_MAGIC = b'PK\x03\x04'


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the module it is loaded into."""


class UnsafeFileError(CheckpointMismatchError):
    """A file asks for code (a global, a call, a state) that is never loaded
    from files (see ``glean_plugin.serialization``)."""


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
        ckpt = CheckpointLoader.load_checkpoint(path, map_location=map_location)
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
    if prefix:
        head = prefix.rstrip('.') + '.'
        state = {k[len(head):]: v for k, v in ckpt.items() if k.startswith(head)}
        if not state:
            prefixes = sorted({k.split('.', 1)[0] for k in ckpt})
            raise CheckpointMismatchError(
                f'checkpoint {path!r} has no key under prefix {prefix!r}; its '
                f'top-level prefixes are: {format_key_list(prefixes)}')
        return state
    return dict(ckpt)


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


def init_weights_strict(module, load_pretrained: Callable[[dict], None]) -> None:
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
