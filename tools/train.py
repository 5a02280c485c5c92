"""Train a model with the stock mmengine Runner (MMagic's arguments).

Example::

    python tools/train.py configs/glean_demo.py --work-dir work_dirs/demo
    tools/dist_train.sh configs/glean_cat_8x.py 8

Exit status (``glean_plugin.cli``, as every tool): 0; 1 if a loss became NaN
or Inf (training stops before saving those weights; the last checkpoint stays
intact); 2 for bad input (a missing or unbuildable config, a missing file, a
work dir that cannot be written, ``--amp`` without a GPU), reported as one
``error:`` line.
"""
import argparse
import os
import sys

from mmengine.config import DictAction

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.cli import run_tool
from glean_plugin.engine.launch import (enable_amp, init_cpu_distributed,
                                        load_tool_config)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in work-dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed-precision training')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    from mmengine.runner import Runner

    cfg = load_tool_config(args.config, args.launcher, args.cfg_options,
                           args.work_dir)
    if args.amp:
        enable_amp(cfg)
    if args.resume:
        cfg.resume = True
    init_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    sys.exit(run_tool(main))
