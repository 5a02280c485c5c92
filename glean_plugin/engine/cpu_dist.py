"""Distributed runs on machines without a GPU (gloo)."""
import torch
import torch.distributed as dist
from mmengine.config import Config

__all__ = ['finish_distributed', 'init_cpu_distributed']


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
    # (setdefault on a ConfigDict stores a copy of the default: assign)
    if cfg.get('env_cfg') is None:
        cfg.env_cfg = {}
    if cfg.env_cfg.get('dist_cfg') is None:
        cfg.env_cfg.dist_cfg = {}
    cfg.env_cfg.dist_cfg.backend = 'gloo'
    dist.init_process_group(backend='gloo', init_method='env://')
    return True


def finish_distributed() -> bool:
    """Wait for every rank, then destroy the default process group.

    Call it once the run has ended well (the tools do, after
    ``runner.train()`` / ``runner.test()``; neither mmengine's Runner nor
    MMagic's tools do). A process that exits with the group alive can abort
    at interpreter shutdown: gloo's threads still hold work when Python is
    torn down ("terminate called without an active exception", SIGABRT; seen
    in a 2-rank CPU run of ``tools/dist_train.sh``), and NCCL warns that the
    group was not destroyed. A no-op outside a distributed run.

    Returns:
        bool: True if a process group was destroyed.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return False
    dist.barrier()
    dist.destroy_process_group()
    return True
