"""What ``tools/train.py`` and ``tools/test.py`` need beyond the stock Runner:
config loading and building with clear errors, and the run wrapper that
prints user errors as one ``error:`` line."""
import difflib
import errno
import json
import logging
import math
import os
import os.path as osp
import sys
import tempfile
from typing import Any, Callable, List, Mapping, Optional

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ..checkpoint import (CheckpointMismatchError, check_state_dict,
                          load_state_dict_from_file)
from .ddp import strip_ddp_keys
from .hooks import NonFiniteLossError

__all__ = ['ConfigError', 'MetricsJsonHook', 'TRAINING_FAILED_STATUS',
           'USER_ERROR_STATUS', 'check_generator_checkpoint',
           'check_output_dir', 'enable_amp', 'explain_build_error',
           'init_cpu_distributed', 'load_tool_config', 'read_config',
           'run_tool', 'to_builtin', 'user_error_message',
           'write_json_atomic']

# Exit statuses of the tools (as argparse for bad arguments).
USER_ERROR_STATUS = 2
TRAINING_FAILED_STATUS = 1
# Errors of the file system that mean a bad path or environment, not a bug.
_USER_ERRNOS = frozenset({
    errno.ENOENT, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.EACCES,
    errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT
})
_USER_OS_ERRORS = (FileNotFoundError, FileExistsError, PermissionError,
                   NotADirectoryError, IsADirectoryError)
# The mmengine function whose own KeyError/TypeError mean a config error.
_BUILD_FUNCTION = ('build_from_cfg',
                   osp.join('mmengine', 'registry', 'build_functions.py'))
# Names the suggestion for an unknown type is picked from (difflib cut-off).
_SUGGESTION_CUTOFF = 0.6
# Path components of the file named where a ValueError was raised.
_WHERE_PARTS = 3
# Sub-models whose weights a test checkpoint must hold.
_CHECKED_SUBMODELS = ('generator', 'generator_ema')


class ConfigError(ValueError):
    """A config that cannot be read or built: a syntax error, an unknown
    ``type``, an argument its class does not take."""


def read_config(path: str) -> Config:
    """``Config.fromfile`` with errors that name the file.

    Args:
        path (str): config path (or ``package::path``).

    Returns:
        Config: the config.

    Raises:
        FileNotFoundError: no such config, or a missing ``_base_`` file.
        ConfigError: the file does not run (syntax error, unknown name...).
    """
    if '::' not in path and not osp.isfile(path):
        raise FileNotFoundError(f'config not found: {path!r}')
    try:
        return Config.fromfile(path)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'config {path!r} inherits a file that is missing: {err}'
        ) from err
    except Exception as err:  # the config is Python: anything can fail
        raise ConfigError(f'cannot read config {path!r}: '
                          f'{type(err).__name__}: {err}') from err


def _new_keys(cfg: Config, options: Mapping[str, Any]) -> List[str]:
    """The first component of each ``--cfg-options`` key that the config
    does not have (``model.generatr`` of ``model.generatr.in_size``)."""
    new = []
    for key in options:
        node: Any = cfg
        parts = key.split('.')
        for i, part in enumerate(parts):
            if isinstance(node, (list, tuple)) and part.isdigit() and \
                    int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, (Mapping, Config)) and part in node:
                node = node[part]
            else:
                new.append('.'.join(parts[:i + 1]))
                break
    return new


def check_output_dir(path: str, what: str) -> None:
    """Refuse a folder that cannot be created or written, before any work.

    Args:
        path (str): the folder (need not exist).
        what (str): its name in messages, e.g. 'work dir'.

    Raises:
        FileExistsError: ``path`` is an existing file.
        PermissionError: the folder, or the nearest existing folder above
            it, is not writable.
    """
    if osp.exists(path) and not osp.isdir(path):
        raise FileExistsError(f'{what} {path!r} is a file, expected a folder')
    existing = osp.abspath(path)
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not os.access(existing, os.W_OK | os.X_OK):
        target = '' if existing == osp.abspath(path) else f' in {existing!r}'
        raise PermissionError(f'{what} {path!r}: no permission to '
                              f'write{target}')


def load_tool_config(config: str, launcher: str, cfg_options=None,
                     work_dir=None) -> Config:
    """Read a config and apply the arguments train/test tools share.

    ``--cfg-options`` keys the config does not have are added as mmengine
    does, with a warning naming them (a typo shows up there first).

    Args:
        config (str): config path.
        launcher (str): ``--launcher``.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir``; default: the config's, or
            ``./work_dirs/<config name>``.

    Returns:
        Config: the config, ready for ``Runner.from_cfg``.

    Raises:
        FileNotFoundError, ConfigError: see ``read_config``.
        FileExistsError, PermissionError: the work dir is a file or is not
            writable.
    """
    cfg = read_config(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        new = _new_keys(cfg, cfg_options)
        if new:
            print_log(f'--cfg-options adds keys that {config} does not have:'
                      f' {", ".join(new)} (a typo?)', logger='current',
                      level=logging.WARNING)
        cfg.merge_from_dict(cfg_options)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    check_output_dir(cfg.work_dir, 'work dir')
    return cfg


def _innermost(err: BaseException):
    """The traceback entry where ``err`` was raised (None if not raised)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _registered_names(registry) -> List[str]:
    names = []
    while registry is not None:
        names += list(registry.module_dict)
        registry = registry.parent
    return names


def explain_build_error(err: BaseException) -> Optional[str]:
    """A one-line explanation of a config error raised by mmengine's build.

    Only errors that mmengine's ``build_from_cfg`` raises itself count: an
    unknown ``type`` (``KeyError``) and arguments the class does not take or
    misses (``TypeError`` raised by the call). Errors from inside a class's
    ``__init__`` are not config errors here (None).

    Args:
        err (BaseException): the exception.

    Returns:
        str | None: the explanation, or None when ``err`` is not a config
        error of the build.
    """
    if not isinstance(err, (KeyError, TypeError)):
        return None
    tb = _innermost(err)
    if tb is None or tb.tb_frame.f_code.co_name != _BUILD_FUNCTION[0] or \
            not tb.tb_frame.f_code.co_filename.endswith(_BUILD_FUNCTION[1]):
        return None
    local = tb.tb_frame.f_locals
    message = err.args[0] if err.args else str(err)
    if isinstance(err, KeyError):
        obj_type, registry = local.get('obj_type'), local.get('registry')
        if not isinstance(obj_type, str) or registry is None:
            return f'the config is not buildable: {message}'
        close = difflib.get_close_matches(obj_type,
                                          _registered_names(registry), n=3,
                                          cutoff=_SUGGESTION_CUTOFF)
        hint = (f'; did you mean {" or ".join(map(repr, close))}?' if close
                else '; is the module that registers it in custom_imports?')
        return (f"unknown type={obj_type!r} in the config: no such class in "
                f'the {registry.scope}::{registry.name} registry{hint}')
    cls = local.get('obj_cls')
    name = getattr(cls, '__name__', 'the class')
    return (f'the config does not fit {name}: {message} (check that key '
            'in the config and in --cfg-options)')


def _where(err: BaseException) -> str:
    """'package/module.py:line' where ``err`` was raised."""
    tb = _innermost(err)
    if tb is None:
        return '?'
    path = tb.tb_frame.f_code.co_filename.split(os.sep)
    return f'{"/".join(path[-_WHERE_PARTS:])}:{tb.tb_lineno}'


def user_error_message(err: BaseException) -> Optional[str]:
    """The ``error:`` line for an exception that means bad input (a config,
    a path, a checkpoint, data), or None for anything else (a bug: the
    caller shows the traceback).

    Bad input: config errors of mmengine's build (``explain_build_error``),
    ``ConfigError``, ``CheckpointMismatchError``, file-system errors (a
    missing file, no permission, a full disk), and any other ``ValueError``
    (this code base's and its libraries' way to refuse a bad value, e.g. a
    model's input size check); for the last, where it was raised is added.

    Args:
        err (BaseException): the exception.

    Returns:
        str | None: the message.
    """
    explained = explain_build_error(err)
    if explained is not None:
        return explained
    if isinstance(err, (ConfigError, CheckpointMismatchError)):
        return str(err)
    if isinstance(err, OSError) and (err.errno in _USER_ERRNOS
                                     or isinstance(err, _USER_OS_ERRORS)):
        if err.filename is not None and err.strerror:
            return f'{err.strerror}: {err.filename!r}'
        return str(err)
    if isinstance(err, ValueError):
        return f'{err} (raised at {_where(err)})'
    return None


def run_tool(main: Callable[[], Any]) -> int:
    """Run a train/test tool's ``main``; user errors and a NaN/Inf loss
    become one ``error:`` line on stderr instead of a traceback.

    Args:
        main (callable): the tool's work.

    Returns:
        int: 0; ``TRAINING_FAILED_STATUS`` after ``NonFiniteLossError``;
        ``USER_ERROR_STATUS`` after a user error (see
        ``user_error_message``). Other exceptions propagate.
    """
    try:
        main()
    except NonFiniteLossError as err:
        print(f'error: {err}', file=sys.stderr, flush=True)
        return TRAINING_FAILED_STATUS
    except Exception as err:
        message = user_error_message(err)
        if message is None:
            raise
        print(f'error: {message}', file=sys.stderr, flush=True)
        return USER_ERROR_STATUS
    return 0


def check_generator_checkpoint(model: nn.Module, checkpoint: str) -> None:
    """Raise unless ``checkpoint`` holds exactly the weights of the model's
    generator (and ``generator_ema``, if it has one).

    mmengine loads test checkpoints non-strictly: a checkpoint of another
    architecture would only log a warning and the test would run on random
    weights.

    Args:
        model (nn.Module): the built model (or its wrapper).
        checkpoint (str): the checkpoint path or URL.

    Raises:
        FileNotFoundError: no such checkpoint.
        CheckpointMismatchError: unreadable, or missing, unexpected or
            mis-shaped generator keys (listed).
    """
    if is_model_wrapper(model):
        model = model.module
    names = [n for n in _CHECKED_SUBMODELS
             if isinstance(getattr(model, n, None), nn.Module)]
    if not names:
        return
    state = load_state_dict_from_file(checkpoint)
    strip_ddp_keys(state, names)
    for name in names:
        head = f'{name}.'
        sub = {k[len(head):]: v for k, v in state.items()
               if k.startswith(head)}
        module = getattr(model, name)
        if is_model_wrapper(module):  # each sub-model in its own DDP
            module = module.module
        check_state_dict(sub, module.state_dict(),
                         f'{name} of the config ({type(module).__name__})',
                         f'checkpoint {checkpoint!r}')


def init_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Start a gloo process group for a CPU-only ``pytorch`` launch.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally,
    which fails without a GPU. When there is no CUDA device this initialises
    the group itself (the Runner then skips its own initialisation) and
    switches the config to gloo.

    Args:
        cfg (Config): the config; ``env_cfg.dist_cfg.backend`` is set.
        launcher (str): the ``--launcher`` argument.

    Returns:
        bool: True if the process group was initialised here.
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or \
            dist.is_initialized():
        return False
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    dist.init_process_group(backend='gloo', init_method='env://')
    return True


def enable_amp(cfg: Config) -> None:
    """Switch every ``OptimWrapper`` of ``cfg.optim_wrapper`` to AMP.

    Args:
        cfg (Config): config edited in place.

    Raises:
        ValueError: no accelerator (mmengine's ``AmpOptimWrapper`` refuses
            CPU training), or an optimizer wrapper is neither
            ``OptimWrapper`` nor ``AmpOptimWrapper``.
    """
    from mmengine.device import get_device
    if get_device() == 'cpu':
        raise ValueError('--amp needs a GPU (or NPU/MLU): mmengine\'s '
                         'AmpOptimWrapper does not train on CPU')
    wrappers = cfg.optim_wrapper
    targets = [wrappers] if 'type' in wrappers else [
        v for v in wrappers.values() if isinstance(v, dict) and 'type' in v
    ]
    for wrapper in targets:
        if wrapper['type'] == 'AmpOptimWrapper':
            continue
        if wrapper['type'] != 'OptimWrapper':
            raise ValueError('--amp needs optimizer wrappers of type '
                             f"'OptimWrapper', got {wrapper['type']!r}")
        wrapper['type'] = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')


def to_builtin(value: Any) -> Any:
    """Tensors / numpy values -> Python numbers, recursively (for JSON)."""
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


def write_json_atomic(obj: Any, path: str) -> None:
    """Write JSON to a temporary file beside ``path``, then rename it."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp')
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(to_builtin(obj), f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


class MetricsJsonHook(Hook):
    """Writes the test metrics to a JSON file (rank 0, atomically).

    Args:
        path (str): output ``.json`` file.
    """

    priority = 'LOWEST'

    def __init__(self, path: str) -> None:
        self.path = path

    def after_test_epoch(self, runner, metrics=None) -> None:
        """Dump ``metrics`` once the test loop has computed them."""
        if metrics is not None and is_main_process():
            write_json_atomic(metrics, self.path)
