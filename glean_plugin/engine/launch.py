"""What ``tools/train.py`` and ``tools/test.py`` need beyond the stock Runner:
config loading with clear errors, checkpoint checks, AMP, CPU distributed
runs and the metrics file (the error wrapper is ``glean_plugin.cli``)."""
import json
import logging
import math
import os
import os.path as osp
from typing import Any, List, Mapping

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ..checkpoint import check_state_dict, load_state_dict_from_file
from ..fileio import atomic_open
from .ddp import strip_ddp_keys

__all__ = ['ConfigError', 'MetricsJsonHook', 'add_finite_loss_hook',
           'check_generator_checkpoint', 'check_output_dir', 'enable_amp',
           'init_cpu_distributed', 'load_tool_config', 'read_config',
           'to_builtin', 'write_json_atomic']

# The hook every training run gets (see ``add_finite_loss_hook``).
FINITE_LOSS_HOOK = 'FiniteLossHook'

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


def _hook_name(hook: Any) -> str:
    """The class name a ``custom_hooks`` entry builds ('' if unknown)."""
    kind = hook.get('type') if isinstance(hook, Mapping) else hook
    if isinstance(kind, str):
        return kind.split('.')[-1]
    return getattr(kind if isinstance(kind, type) else type(kind),
                   '__name__', '')


def add_finite_loss_hook(cfg: Config) -> bool:
    """Add ``FiniteLossHook`` to ``cfg.custom_hooks`` unless it is there.

    ``configs/_base_/default_runtime.py`` lists it, but mmengine's config
    inheritance replaces lists: a leaf that sets its own ``custom_hooks``
    would silently train without it.

    Args:
        cfg (Config): config edited in place.

    Returns:
        bool: True if the hook was added (a message says so).
    """
    hooks = list(cfg.get('custom_hooks') or ())
    if any(_hook_name(h) == FINITE_LOSS_HOOK for h in hooks):
        return False
    cfg.custom_hooks = hooks + [dict(type=FINITE_LOSS_HOOK)]
    print_log(f'custom_hooks of the config has no {FINITE_LOSS_HOOK} (a leaf '
              'that sets custom_hooks replaces the base list): added it, '
              'training stops at the first NaN/Inf loss', logger='current',
              level=logging.INFO)
    return True


def load_tool_config(config: str, launcher: str, cfg_options=None,
                     work_dir=None) -> Config:
    """Read a config and apply the arguments train/test tools share.

    ``--cfg-options`` keys the config does not have are added as mmengine
    does, with a warning naming them (a typo shows up there first).
    ``FiniteLossHook`` is added where the config lacks it
    (``add_finite_loss_hook``).

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
    add_finite_loss_hook(cfg)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    check_output_dir(cfg.work_dir, 'work dir')
    return cfg


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
    """Write ``obj`` as JSON through ``atomic_open`` (tensors and numpy
    values as Python numbers)."""
    with atomic_open(path, 'w') as f:
        json.dump(to_builtin(obj), f, indent=2)


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
