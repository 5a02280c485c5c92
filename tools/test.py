"""Test (and evaluate) a checkpoint with the stock mmengine Runner.

Example::

    python tools/test.py configs/glean_demo.py work_dirs/demo/iter_400.pth \
        --out work_dirs/demo/metrics.json --save-images work_dirs/demo/sr
    tools/dist_test.sh configs/glean_cat_8x.py glean_cat_8x.pth 8

The checkpoint must hold the config's generator weights exactly (mmengine
would load another architecture's with a warning and test random weights);
missing, unexpected and mis-shaped keys are listed. ``--save-images DIR``
writes each prediction as ``DIR/<GT file stem>.png``. Refuses to replace an
existing --out or saved image unless --overwrite. Exit status: 0; 2 for bad
input, reported as one ``error:`` line.
"""
import argparse
import os.path as osp
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.cli import run_tool
from glean_plugin.engine.args import add_runner_arguments, runner_config
from glean_plugin.engine.cpu_dist import (finish_distributed,
                                          init_cpu_distributed)
from glean_plugin.engine.outputs import MetricsJsonHook, SaveImagesHook
from glean_plugin.engine.weights import check_generator_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='write the metrics to this file '
                        '(.json; .pkl/.pickle also dumps the predictions)')
    parser.add_argument('--save-images', metavar='DIR',
                        help='write each prediction as DIR/<GT file '
                        'stem>.png')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing --out file and existing '
                        '--save-images PNGs')
    add_runner_arguments(parser, 'the dir for logs')
    args = parser.parse_args()
    if args.out and not args.out.endswith(('.json', '.pkl', '.pickle')):
        parser.error(f'--out must end with .json, .pkl or .pickle, got '
                     f'{args.out!r}')
    if args.out and osp.isdir(args.out):
        parser.error(f'--out {args.out!r} is a folder, expected a file')
    if args.out and osp.exists(args.out) and not args.overwrite:
        parser.error(f'--out {args.out!r} exists; pass --overwrite to '
                     'replace it')
    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        parser.error(f'checkpoint not found: {args.checkpoint!r}')
    return args


def main() -> None:
    args = parse_args()
    from mmengine.evaluator import DumpResults
    from mmengine.runner import Runner

    cfg = runner_config(args)
    cfg.load_from = args.checkpoint
    init_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    check_generator_checkpoint(runner.model, args.checkpoint)
    if args.out and args.out.endswith(('.pkl', '.pickle')):
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    if args.out and args.out.endswith('.json'):
        runner.register_hook(MetricsJsonHook(args.out))
    if args.save_images:
        runner.register_hook(SaveImagesHook(args.save_images,
                                            overwrite=args.overwrite))
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    sys.exit(run_tool(main))
