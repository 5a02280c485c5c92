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

    python tools/demo.py                                  # what `make demo` runs
    python tools/demo.py --bank-iters 50 --glean-iters 50  # a quicker look
"""
import argparse
import copy
import os.path as osp
import sys
import time

import imageio.v3 as iio
import numpy as np
import torch
from mmengine.config import Config

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.apis import InferenceSettings
from glean_plugin.apis import demo
from glean_plugin.apis.benchmark import device_name
from glean_plugin.apis.cli import int_at_least
from glean_plugin.cli import run_tool
from glean_plugin.datasets import build_demo_dataset
from glean_plugin.datasets.demo import META_FILE
from glean_plugin.engine.launch import add_finite_loss_hook

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'configs')
GRID_ROWS = 6
LOG_LEVEL = 'ERROR'  # the progress lines say what happens


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


def read_pairs(split_root: str, lr_folder: str):
    """(names, LR list, GT list) of a split, uint8 RGB."""
    with open(osp.join(split_root, META_FILE)) as f:
        names = [line.strip() for line in f if line.strip()]
    lrs = [iio.imread(osp.join(split_root, lr_folder, n)) for n in names]
    gts = [iio.imread(osp.join(split_root, 'GT', n)) for n in names]
    return names, lrs, gts


def check_demo_data(data_root: str, cfg: Config) -> str:
    """Why ``data_root`` cannot serve ``cfg`` (e.g. built by an older demo),
    or '' when it can."""
    gen = cfg.model.generator
    lr_folder = cfg.val_dataloader.dataset.data_prefix.img
    for split in ('train', 'val'):
        meta = osp.join(data_root, split, META_FILE)
        if not osp.isfile(meta):
            return f'{data_root} is not a demo data set: {meta} is missing'
        with open(meta) as f:
            first = f.readline().strip()
        for folder, size in (('GT', gen.out_size), (lr_folder, gen.in_size)):
            path = osp.join(data_root, split, folder, first)
            shape = iio.imread(path).shape[:2] if osp.isfile(path) else None
            if shape != (size, size):
                return (f'{data_root} does not fit '
                        f'{cfg.get("experiment_name", "the config")}: '
                        f'expected {size}x{size} images in {split}/{folder}, '
                        f'found {shape and "x".join(map(str, shape))} '
                        f'({path}); it was built for another demo. Move it '
                        'away (it is rebuilt) or pass --data-root')
    return ''


def _set_length(cfg: Config, iters: int) -> None:
    """Train ``iters`` iterations, checkpoint and validate once, at the end."""
    cfg.train_cfg.max_iters = iters
    if 'val_interval' in cfg.train_cfg:
        cfg.train_cfg.val_interval = iters
    cfg.default_hooks.checkpoint.interval = iters
    schedulers = cfg.get('param_scheduler')
    for scheduler in (schedulers if isinstance(schedulers, list) else
                      [schedulers]):
        if scheduler and 'T_max' in scheduler:
            scheduler['T_max'] = iters


def _prepare(cfg: Config, work_dir: str, name: str) -> Config:
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    # one process runs several Runners: each needs its own message hub
    cfg.experiment_name = f'{name}_{time.strftime("%Y%m%d_%H%M%S")}'
    cfg.log_level = LOG_LEVEL
    add_finite_loss_hook(cfg)
    return cfg


def bank_config(args) -> Config:
    cfg = Config.fromfile(args.bank_config)
    cfg.train_dataloader.dataset.data_root = osp.join(args.data_root, 'train')
    if args.bank_iters:
        _set_length(cfg, args.bank_iters)
    return _prepare(cfg, osp.join(args.work_dir, 'stylegan2'), 'stylegan2')


def glean_configs(args, bank_cfg: Config, bank_checkpoint: str):
    """variant -> config of each stage-2 GLEAN."""
    base = Config.fromfile(args.glean_config)
    base.model.generator.update(demo.bank_settings(bank_cfg))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        split = 'train' if loader.startswith('train') else 'val'
        base[loader].dataset.data_root = osp.join(args.data_root, split)
    if args.glean_iters:
        _set_length(base, args.glean_iters)
    configs = {}
    for variant in demo.GLEAN_VARIANTS:
        cfg = _prepare(base, osp.join(args.work_dir, variant.slug),
                       variant.slug)
        gen = cfg.model.generator
        if variant.bank == 'trained':
            gen.init_cfg = dict(type='Pretrained', checkpoint=bank_checkpoint,
                                prefix='generator_ema')
        else:
            gen.init_cfg = None
        if variant.bank == 'none':
            gen.decoder_bank_res = 0
        configs[variant] = cfg
    return configs


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
    problem = check_demo_data(args.data_root, glean_probe)
    if problem:
        raise ValueError(problem)

    bank_cfg = bank_config(args)
    _, bank_checkpoint = demo.train_stage(
        bank_cfg, f'stage 1/{stages} StyleGAN2 latent bank', report)
    samples = demo.latest_samples(bank_cfg.work_dir)
    samples_path = osp.join(args.work_dir, 'stylegan2_samples.png')
    if samples:
        demo.copy_enlarged(samples, samples_path)

    durations = []
    generators = {}
    configs = glean_configs(args, bank_cfg, bank_checkpoint)
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

    lr_folder = glean_probe.val_dataloader.dataset.data_prefix.img
    names, lrs, gts = read_pairs(osp.join(args.data_root, 'val'), lr_folder)
    settings = InferenceSettings.from_config(glean_probe)
    rows, outputs = demo.evaluate(generators, lrs, gts, settings)
    scale = gts[0].shape[0] // lrs[0].shape[0]
    wall = time.time() - start
    note = (f'{len(names)} held-out {gts[0].shape[0]}x{gts[0].shape[1]} '
            f'faces (never seen in either stage), x{scale}, RGB, no border '
            f'crop. Stage 1: {bank_cfg.train_cfg.max_iters} StyleGAN2 '
            f'iterations; stage 2: {cfg.train_cfg.max_iters} iterations per '
            f'GLEAN, same seed. Wall time {wall / 60:.1f} min on '
            f'{device_name(torch.device("cpu"))}.')
    json_path, md_path = demo.write_metrics(args.work_dir, rows, note)

    columns = [(f'LR x{scale}', lrs)] + [(m, outputs[m]) for m in outputs] + \
        [('ground truth', gts)]
    picks = sorted({int(i) for i in np.linspace(0, len(names) - 1,
                                                GRID_ROWS)})
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
