"""What ``tools/train.py`` and ``tools/test.py`` need beyond the stock Runner."""
import json
import math
import os
import os.path as osp
import tempfile
from typing import Any, Mapping

import numpy as np
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

__all__ = ['MetricsJsonHook', 'enable_amp', 'init_cpu_distributed',
           'load_tool_config', 'to_builtin', 'write_json_atomic']


def load_tool_config(config: str, launcher: str, cfg_options=None,
                     work_dir=None) -> Config:
    """Read a config and apply the arguments train/test tools share.

    Args:
        config (str): config path.
        launcher (str): ``--launcher``.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir``; default: the config's, or
            ``./work_dirs/<config name>``.

    Returns:
        Config: the config, ready for ``Runner.from_cfg``.
    """
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


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
