"""The arguments ``tools/train.py`` and ``tools/test.py`` share (MMagic's:
``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``) and the
config they give."""
import argparse
import os

from mmengine.config import Config, DictAction

from .config import load_tool_config

__all__ = ['LAUNCHERS', 'add_runner_arguments', 'runner_config']

# mmengine's launchers.
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_runner_arguments(parser: argparse.ArgumentParser,
                         work_dir_help: str) -> None:
    """Add ``--work-dir`` (help ``work_dir_help``), ``--cfg-options``,
    ``--launcher`` and ``--local-rank`` (also ``--local_rank``, as
    ``torch.distributed.launch`` passes it)."""
    parser.add_argument('--work-dir', help=work_dir_help)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--launcher', default='none', choices=LAUNCHERS,
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def runner_config(args: argparse.Namespace) -> Config:
    """The config that ``args.config`` and the runner arguments give (see
    ``load_tool_config``); sets ``LOCAL_RANK`` from ``--local-rank`` where
    the launcher did not.

    Args:
        args (Namespace): with ``config`` and the arguments of
            ``add_runner_arguments``.

    Returns:
        Config: ready for ``Runner.from_cfg``.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return load_tool_config(args.config, args.launcher, args.cfg_options,
                            args.work_dir)
