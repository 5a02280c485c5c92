"""Distributed runs on machines without a GPU (gloo)."""
import torch
import torch.distributed as dist
from mmengine.config import Config

__all__ = ['init_cpu_distributed']


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
    env = cfg.setdefault('env_cfg', {})
    env.setdefault('dist_cfg', {})['backend'] = 'gloo'
    dist.init_process_group(backend='gloo', init_method='env://')
    return True
