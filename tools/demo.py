"""The main job: build the demo data, train GLEAN on CPU, test it, compare.

1. builds ``data/demo`` from the LFW faces shipped with scikit-image (80
   training faces, 20 held out; kept if it is already there),
2. trains ``configs/glean_demo.py`` with the stock Runner (progress is logged),
3. tests the final checkpoint on the held-out faces,
4. writes ``metrics.md`` (PSNR/SSIM of MATLAB-bicubic and of GLEAN) and
   ``side_by_side.png`` (LR | bicubic | GLEAN | GT) into the work dir.

Example::

    python tools/demo.py                       # what `make demo` runs
    python tools/demo.py --max-iters 100       # a quicker look
"""
import argparse
import json
import os.path as osp
import sys
import time

import numpy as np
from mmengine.config import Config

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.apis import InferenceSettings, super_resolve
from glean_plugin.cli import run_tool
from glean_plugin.datasets import build_demo_dataset, matlab_resize
from glean_plugin.datasets.demo import META_FILE
from glean_plugin.engine.launch import MetricsJsonHook, add_finite_loss_hook
from glean_plugin.fileio import atomic_open

DEFAULT_CONFIG = osp.join(osp.dirname(__file__), '..', 'configs',
                          'glean_demo.py')
GRID_ROWS = 6
# Tiles of the side-by-side image are enlarged (nearest) to at least this
# many pixels, so 32x32 faces can be seen.
MIN_TILE = 128


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default='work_dirs/glean_demo')
    parser.add_argument('--data-root', default='data/demo')
    parser.add_argument('--max-iters', type=int, default=None,
                        help='override the config\'s training length')
    return parser.parse_args()


def read_pairs(split_root: str, lr_folder: str):
    """(names, LR list, GT list) of a split, uint8 RGB."""
    import imageio.v3 as iio
    with open(osp.join(split_root, META_FILE)) as f:
        names = [line.strip() for line in f if line.strip()]
    lrs = [iio.imread(osp.join(split_root, lr_folder, n)) for n in names]
    gts = [iio.imread(osp.join(split_root, 'GT', n)) for n in names]
    return names, lrs, gts


def check_demo_data(data_root: str, cfg: Config) -> str:
    """Why ``data_root`` cannot serve ``cfg`` (e.g. built by an older demo),
    or '' when it can."""
    import imageio.v3 as iio
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


def write_outputs(work_dir, names, lrs, bicubic, sr, gts, metrics, scale):
    """metrics.md and side_by_side.png, each written atomically."""
    import imageio.v3 as iio
    from mmagic.evaluation.metrics.psnr import psnr
    from mmagic.evaluation.metrics.ssim import ssim
    bic_psnr = float(np.mean([psnr(b, g) for b, g in zip(bicubic, gts)]))
    bic_ssim = float(np.mean([ssim(b, g) for b, g in zip(bicubic, gts)]))
    table = ('| method | PSNR (dB) | SSIM |\n| --- | --- | --- |\n'
             f'| bicubic (MATLAB-like) | {bic_psnr:.2f} | {bic_ssim:.4f} |\n'
             f'| GLEAN (demo) | {metrics["PSNR"]:.2f} | '
             f'{metrics["SSIM"]:.4f} |\n')
    note = (f'\n{len(names)} held-out {gts[0].shape[0]}x{gts[0].shape[1]} '
            f'faces, x{scale}, RGB, no border crop.\n')
    md_path = osp.join(work_dir, 'metrics.md')
    with atomic_open(md_path, 'w') as f:
        f.write(table + note)

    rows = []
    zoom = max(1, -(-MIN_TILE // gts[0].shape[0]))
    for i in np.linspace(0, len(names) - 1, GRID_ROWS).astype(int):
        lr_big = np.kron(lrs[i], np.ones((scale, scale, 1), dtype=np.uint8))
        row = np.concatenate([lr_big, bicubic[i], sr[i], gts[i]], 1)
        rows.append(np.kron(row, np.ones((zoom, zoom, 1), dtype=np.uint8)))
    png_path = osp.join(work_dir, 'side_by_side.png')
    with atomic_open(png_path) as f:
        iio.imwrite(f, np.concatenate(rows, 0), extension='.png')
    return table, md_path, png_path


def main() -> int:
    args = parse_args()
    from mmengine.runner import Runner
    start = time.time()
    if not osp.isdir(args.data_root):
        print(f'building the demo data set in {args.data_root} ...',
              flush=True)
        counts = build_demo_dataset(args.data_root)
        print(f'  {counts["train"]} training images and {counts["val"]} '
              'held-out faces', flush=True)
    cfg = Config.fromfile(args.config)
    add_finite_loss_hook(cfg)
    problem = check_demo_data(args.data_root, cfg)
    if problem:
        raise ValueError(problem)
    cfg.work_dir = args.work_dir
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        split = 'train' if loader.startswith('train') else 'val'
        cfg[loader].dataset.data_root = osp.join(args.data_root, split)
    if args.max_iters:
        cfg.train_cfg.max_iters = args.max_iters
        cfg.train_cfg.val_interval = args.max_iters
        cfg.param_scheduler.T_max = args.max_iters
    runner = Runner.from_cfg(cfg)
    metrics_path = osp.join(args.work_dir, 'test_metrics.json')
    runner.register_hook(MetricsJsonHook(metrics_path))
    runner.train()
    runner.test()
    with open(metrics_path) as f:
        metrics = json.load(f)
    train_time = time.time() - start

    scale = cfg.model.generator.out_size // cfg.model.generator.in_size
    lr_folder = cfg.val_dataloader.dataset.data_prefix.img
    names, lrs, gts = read_pairs(osp.join(args.data_root, 'val'), lr_folder)
    bicubic = [matlab_resize(lr, (gt.shape[0], gt.shape[1]))
               for lr, gt in zip(lrs, gts)]
    generator = runner.model.generator.eval()
    sr = super_resolve(generator, lrs, InferenceSettings.from_config(cfg),
                       batch_size=len(lrs))
    table, md_path, png_path = write_outputs(args.work_dir, names, lrs,
                                             bicubic, sr, gts, metrics, scale)
    print('\n' + table)
    print(f'wall time {train_time / 60:.1f} min (data, training, test)')
    print(f'metrics:      {md_path}')
    print(f'side by side: {png_path}  (LR | bicubic | GLEAN | GT)')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
