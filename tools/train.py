"""Train a model with the stock mmengine Runner (MMagic's arguments).

Example::

    python tools/train.py configs/glean_demo.py --work-dir work_dirs/demo
    tools/dist_train.sh configs/glean_cat_8x.py 8

``--amp`` and configs whose optimizer wrappers are ``AmpOptimWrapper`` warn
once, with the reason, when their dtype is only emulated on the device
(e.g. bfloat16 on a GPU older than Ampere).

Exit status (``glean_plugin.cli``, as every tool): 0; 1 if a loss became NaN
or Inf (training stops before saving those weights; the last checkpoint stays
intact); 2 for bad input (a missing or unbuildable config, a missing file, a
work dir that cannot be written, ``--amp`` without a GPU), reported as one
``error:`` line.
"""
import argparse
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.cli import run_tool
from glean_plugin.engine.amp import enable_amp, warn_slow_amp
from glean_plugin.engine.args import add_runner_arguments, runner_config
from glean_plugin.engine.cpu_dist import (finish_distributed,
                                          init_cpu_distributed)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in work-dir')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed-precision training')
    add_runner_arguments(parser, 'the dir to save logs and models')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from mmengine.runner import Runner

    cfg = runner_config(args)
    if args.amp:
        enable_amp(cfg)
    warn_slow_amp(cfg, what='--amp' if args.amp else None)
    if args.resume:
        cfg.resume = True
    init_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    sys.exit(run_tool(main))
