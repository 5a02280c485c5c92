"""The main job: what a latent bank is worth, on CPU, offline.

1. builds ``data/demo`` from the LFW faces shipped with scikit-image (80
   training faces, 20 held out; kept if it is already there),
2. stage 1: trains a small StyleGAN2 on the training faces
   (``configs/stylegan2_demo.py``): the latent bank,
3. stage 2: trains GLEAN 8x (4 -> 32, ``configs/glean_demo_x8.py``) with
   that bank, then with the same budget and seed GLEAN with a random bank
   and GLEAN with no bank (``decoder_bank_res=0``),
4. evaluates each, and MATLAB-like bicubic, on the held-out faces and writes
   into the work dir ``metrics.json`` / ``metrics.md``,
   ``side_by_side.png`` (one labelled column per method) and
   ``stylegan2_samples.png`` (what the bank learned).

Example::

    python tools/demo.py                                   # `make demo`
    python tools/demo.py --bank-iters 50 --glean-iters 50  # a quicker look
"""
import argparse
import os.path as osp
import sys
import time

from mmengine.config import Config

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.apis import InferenceSettings, demo
from glean_plugin.apis.benchmark import grid_rows, load_paired_data
from glean_plugin.apis.cli import int_at_least
from glean_plugin.cli import run_tool
from glean_plugin.datasets import build_demo_dataset
from glean_plugin.datasets.demo import META_FILE
from glean_plugin.hardware import device_name

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs')
GRID_ROWS = 6


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/demo')
    parser.add_argument('--bank-config',
                        default=osp.join(CONFIGS, 'stylegan2_demo.py'))
    parser.add_argument('--glean-config',
                        default=osp.join(CONFIGS, 'glean_demo_x8.py'))
    parser.add_argument('--bank-iters', type=int_at_least(1), default=None,
                        help="stage 1's training length (default: the "
                        "config's)")
    parser.add_argument('--glean-iters', type=int_at_least(1), default=None,
                        help="each stage-2 GLEAN's training length (default: "
                        "the config's)")
    return parser.parse_args()


def report(line: str) -> None:
    print(line, flush=True)


def main() -> int:
    args = parse_args()
    start = time.time()
    stages = 1 + len(demo.GLEAN_VARIANTS)
    glean_probe = Config.fromfile(args.glean_config)
    if not osp.isdir(args.data_root):
        report(f'building the demo data set in {args.data_root} ...')
        counts = build_demo_dataset(args.data_root)
        report(f'  {counts["train"]} training images and {counts["val"]} '
               'held-out faces')
    problem = demo.check_demo_data(args.data_root, glean_probe)
    if problem:
        raise ValueError(problem)

    bank_cfg = demo.bank_config(args.bank_config, args.data_root,
                                args.work_dir, args.bank_iters)
    _, bank_checkpoint = demo.train_stage(
        bank_cfg, f'stage 1/{stages} StyleGAN2 latent bank', report)
    samples = demo.latest_samples(bank_cfg.work_dir)
    samples_path = osp.join(args.work_dir, 'stylegan2_samples.png')
    if samples:
        demo.copy_enlarged(samples, samples_path)

    durations = []
    generators = {}
    configs = demo.glean_configs(args.glean_config, args.data_root,
                                 args.work_dir, bank_cfg, bank_checkpoint,
                                 args.glean_iters)
    for k, (variant, cfg) in enumerate(configs.items()):
        later = len(configs) - k - 1
        stage_start = time.time()
        runner, _ = demo.train_stage(
            cfg, f'stage {k + 2}/{stages} {variant.method}', report,
            after_s=lambda total, later=later: later * (
                durations[-1] if durations else total))
        durations.append(time.time() - stage_start)
        generators[variant.method] = runner.model.generator.eval()
        del runner

    gen = glean_probe.model.generator
    data = load_paired_data(osp.join(args.data_root, 'val'),
                            gen.out_size // gen.in_size, META_FILE)
    lrs, gts, scale = data.lrs, data.gts, data.scale
    settings = InferenceSettings.from_config(glean_probe)
    rows, outputs = demo.evaluate(generators, lrs, gts, settings)
    wall = time.time() - start
    note = (f'{len(data)} held-out {gts[0].shape[0]}x{gts[0].shape[1]} '
            f'faces (never seen in either stage), x{scale}, RGB, no border '
            f'crop. Stage 1: {bank_cfg.train_cfg.max_iters} StyleGAN2 '
            f'iterations; stage 2: {cfg.train_cfg.max_iters} iterations per '
            f'GLEAN, same seed. Wall time {wall / 60:.1f} min on '
            f'{device_name("cpu")}.')
    json_path, md_path = demo.write_metrics(args.work_dir, rows, note)

    columns = [(f'LR x{scale}', lrs)] + [(m, outputs[m]) for m in outputs] + \
        [('ground truth', gts)]
    picks = grid_rows(len(data), GRID_ROWS)
    grid_path = osp.join(args.work_dir, 'side_by_side.png')
    demo.write_side_by_side(grid_path, columns, picks)

    with open(md_path) as f:
        report('\n' + f.read())
    report(f'metrics:      {json_path}, {md_path}')
    report(f'side by side: {grid_path}')
    if samples:
        report(f'StyleGAN2 samples (the trained bank): {samples_path}')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
