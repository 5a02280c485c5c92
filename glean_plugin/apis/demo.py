"""The demo pipeline: what a latent bank is worth.

Stage 1 trains a small StyleGAN2 on the demo's training faces (the latent
bank); stage 2 trains GLEAN with that bank and, with the same budget and
seed, GLEAN with a random bank and GLEAN without a bank (an encoder-decoder,
``decoder_bank_res=0``). Every model is evaluated on the held-out faces,
beside MATLAB-like bicubic. ``tools/demo.py`` is the command line.
"""
import collections
import copy
import os
import os.path as osp
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config
from mmengine.hooks import Hook

from ..datasets.demo import META_FILE
from ..engine.config import add_finite_loss_hook
from ..fileio import atomic_open
from ..image import matlab_resize, write_png_atomic
from .benchmark import ImageQuality
from .files import read_image
from .generator import InferenceSettings
from .inference import super_resolve

__all__ = ['BANK_KEYS', 'GleanVariant', 'GLEAN_VARIANTS', 'ProgressHook',
           'bank_config', 'bank_settings', 'check_demo_data', 'copy_enlarged',
           'evaluate', 'glean_configs', 'labelled_grid', 'latest_samples',
           'train_stage', 'write_metrics', 'write_side_by_side']

# The generator arguments GLEAN's bank must share with the StyleGAN2 config.
BANK_KEYS = ('out_size', 'style_channels', 'num_mlps', 'max_channels',
             'channel_multiplier')
BICUBIC = 'bicubic'
# Iteration times the progress estimate is the median of (recent ones: the
# first iterations are slower).
PROGRESS_WINDOW = 50
# Seconds between progress lines.
PROGRESS_INTERVAL_S = 15.0
# Tiles of the side-by-side image are enlarged (nearest) to at least this
# many pixels, so 32x32 faces and the labels can be seen.
MIN_TILE = 160
LABEL_HEIGHT = 44
LABEL_FONT_SCALE = 0.45
LABEL_LINE_STEP = 18
WHITE, BLACK = 255, 0
# Each stage's messages: the progress lines say what happens.
STAGE_LOG_LEVEL = 'ERROR'


@dataclass(frozen=True)
class GleanVariant:
    """One GLEAN of stage 2.

    Attributes:
        method (str): its name in the metrics, e.g. 'GLEAN (trained bank)'.
        slug (str): its work-dir name.
        bank (str): 'trained' (the stage-1 EMA generator), 'random' (the
            bank's initialisation, frozen) or 'none' (not run).
    """
    method: str
    slug: str
    bank: str


GLEAN_VARIANTS = (
    GleanVariant('GLEAN (trained bank)', 'glean_trained_bank', 'trained'),
    GleanVariant('GLEAN (random bank)', 'glean_random_bank', 'random'),
    GleanVariant('GLEAN (no bank)', 'glean_no_bank', 'none'),
)


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f'{seconds // 60}:{seconds % 60:02d}'


class ProgressHook(Hook):
    """Reports ``label: iter i/N, elapsed, ETA`` and the losses.

    The estimate is the median of the last ``PROGRESS_WINDOW`` iteration
    times times the iterations left (the first iterations, slower, soon
    drop out), plus ``after_s()``, the caller's estimate for what follows.

    Args:
        label (str): the stage, e.g. 'stage 2/4 GLEAN (trained bank)'.
        report (callable): takes each line.
        after_s (callable, optional): given this stage's estimated total
            seconds, the seconds the stages after it are expected to take
            (None: unknown, not shown).
        interval_s (float): seconds between lines.
    """

    priority = 'VERY_LOW'

    def __init__(self, label: str, report: Callable[[str], None],
                 after_s: Optional[Callable[[float], Optional[float]]] = None,
                 interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self.label = label
        self.report = report
        self.after_s = after_s
        self.interval_s = interval_s
        self.times: collections.deque = collections.deque(
            maxlen=PROGRESS_WINDOW)

    def before_train(self, runner) -> None:
        self.start = self.last = self.last_report = time.monotonic()

    def remaining_s(self, done: int, total: int) -> float:
        """Estimated seconds left in this stage."""
        if not self.times:
            return float('nan')
        return statistics.median(self.times) * (total - done)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        now = time.monotonic()
        self.times.append(now - self.last)
        self.last = now
        done, total = runner.iter + 1, runner.max_iters
        if now - self.last_report < self.interval_s and done != total:
            return
        self.last_report = now
        left = self.remaining_s(done, total)
        after = self.after_s(now - self.start + left) if self.after_s \
            else None
        eta = f'ETA {_clock(left)}'
        if after is not None:
            eta += f' (demo {_clock(left + after)})'
        losses = '  '.join(
            f'{k} {float(v):.4f}' for k, v in (outputs or {}).items()
            if k.startswith('loss'))
        self.report(f'{self.label}: iter {done}/{total}  '
                    f'{_clock(now - self.start)} elapsed  {eta}  {losses}')


def bank_settings(stylegan2_cfg: Config) -> Dict[str, object]:
    """The generator arguments of a StyleGAN2 config that GLEAN's bank must
    share (``BANK_KEYS`` the config sets)."""
    gen = stylegan2_cfg.model.generator
    return {k: gen[k] for k in BANK_KEYS if k in gen}


def check_demo_data(data_root: str, cfg: Config) -> str:
    """Why ``data_root`` cannot serve the GLEAN config ``cfg`` (e.g. built
    by an older demo), or '' when it can."""
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
            shape = read_image(path).shape[:2] if osp.isfile(path) else None
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


def _stage_config(cfg: Config, work_dir: str, name: str) -> Config:
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    # one process runs several Runners: each needs its own message hub
    cfg.experiment_name = f'{name}_{time.strftime("%Y%m%d_%H%M%S")}'
    cfg.log_level = STAGE_LOG_LEVEL
    add_finite_loss_hook(cfg)
    return cfg


def bank_config(config: str, data_root: str, work_dir: str,
                iters: Optional[int] = None) -> Config:
    """Stage 1's config: the StyleGAN2 ``config`` on the demo's training
    faces, in ``work_dir/stylegan2``.

    Args:
        config (str): the StyleGAN2 config file.
        data_root (str): the demo data set.
        work_dir (str): the demo's work dir.
        iters (int, optional): training length (default: the config's).

    Returns:
        Config: ready for ``train_stage``.
    """
    cfg = Config.fromfile(config)
    cfg.train_dataloader.dataset.data_root = osp.join(data_root, 'train')
    if iters:
        _set_length(cfg, iters)
    return _stage_config(cfg, osp.join(work_dir, 'stylegan2'), 'stylegan2')


def glean_configs(config: str, data_root: str, work_dir: str,
                  bank_cfg: Config, bank_checkpoint: str,
                  iters: Optional[int] = None) -> Dict[GleanVariant, Config]:
    """Stage 2's configs: the GLEAN ``config`` with the bank's settings, once
    per ``GLEAN_VARIANTS`` entry, each in ``work_dir/<variant slug>``.

    Args:
        config (str): the GLEAN config file.
        data_root (str): the demo data set.
        work_dir (str): the demo's work dir.
        bank_cfg (Config): stage 1's config.
        bank_checkpoint (str): stage 1's last checkpoint (its EMA generator
            is the trained bank).
        iters (int, optional): training length (default: the config's).

    Returns:
        dict: variant -> config.
    """
    base = Config.fromfile(config)
    base.model.generator.update(bank_settings(bank_cfg))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        split = 'train' if loader.startswith('train') else 'val'
        base[loader].dataset.data_root = osp.join(data_root, split)
    if iters:
        _set_length(base, iters)
    configs = {}
    for variant in GLEAN_VARIANTS:
        cfg = _stage_config(base, osp.join(work_dir, variant.slug),
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


def train_stage(cfg: Config, label: str, report: Callable[[str], None],
                after_s: Optional[Callable[[float], Optional[float]]] = None):
    """Train ``cfg`` with the stock Runner and a ``ProgressHook``.

    Args:
        cfg (Config): a full training config (work_dir set).
        label, report, after_s: see ``ProgressHook``.

    Returns:
        tuple: (the Runner after training, the last checkpoint's path).
    """
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.register_hook(ProgressHook(label, report, after_s))
    runner.train()
    checkpoint = osp.join(cfg.work_dir, f'iter_{runner.max_iters}.pth')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'{label}: training ended without {checkpoint} (the config\'s '
            'checkpoint interval must divide max_iters)')
    return runner, checkpoint


def evaluate(generators: Dict[str, object], lrs: Sequence[np.ndarray],
             gts: Sequence[np.ndarray], settings: InferenceSettings
             ) -> Tuple[List[dict], Dict[str, List[np.ndarray]]]:
    """PSNR/SSIM (MMagic's, RGB, no crop) of bicubic and each generator.

    Args:
        generators (dict): method -> generator (eval mode).
        lrs, gts: uint8 RGB LR inputs and their ground truth.
        settings (InferenceSettings): the configs' normalisation.

    Returns:
        tuple: rows ``{'method', 'psnr', 'ssim'}`` (bicubic first) and
        method -> outputs.
    """
    outputs = {BICUBIC: [matlab_resize(lr, gt.shape[:2])
                         for lr, gt in zip(lrs, gts)]}
    for method, generator in generators.items():
        outputs[method] = super_resolve(generator, lrs, settings,
                                        batch_size=len(lrs))
    quality = ImageQuality()
    rows = []
    for method, images in outputs.items():
        values = [quality(img, gt) for img, gt in zip(images, gts)]
        rows.append({'method': method,
                     **{k: float(np.mean([v[k] for v in values]))
                        for k in ('psnr', 'ssim')}})
    return rows, outputs


def _label_strip(text: str, width: int) -> np.ndarray:
    import cv2
    strip = np.full((LABEL_HEIGHT, width, 3), WHITE, np.uint8)
    # 'GLEAN (trained bank)' is written on two lines
    lines = [line.strip() for line in text.replace('(', '\n(').split('\n')]
    for i, line in enumerate(lines[:2]):
        (w, _), _ = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX,
                                    LABEL_FONT_SCALE, 1)
        cv2.putText(strip, line, (max(2, (width - w) // 2),
                                  16 + i * LABEL_LINE_STEP),
                    cv2.FONT_HERSHEY_SIMPLEX, LABEL_FONT_SCALE,
                    (BLACK, BLACK, BLACK), 1, cv2.LINE_AA)
    return strip


def labelled_grid(columns: Sequence[Tuple[str, Sequence[np.ndarray]]],
                  rows: Sequence[int]) -> np.ndarray:
    """Images side by side, one named column per method.

    Args:
        columns (Sequence): (label, images) pairs; images uint8 (H, W, 3)
            RGB of one size per column position (LR columns are enlarged,
            nearest, to the largest height).
        rows (Sequence[int]): which images make the rows.

    Returns:
        ndarray: uint8 (LABEL_HEIGHT + rows * tile, columns * tile, 3).
    """
    height = max(images[0].shape[0] for _, images in columns)
    zoom = max(1, -(-MIN_TILE // height))
    tile = height * zoom
    header = np.concatenate([_label_strip(label, tile)
                             for label, _ in columns], 1)
    body = []
    for i in rows:
        row = []
        for _, images in columns:
            img = images[i]
            factor = tile // img.shape[0]
            row.append(np.kron(img, np.ones((factor, factor, 1), np.uint8)))
        body.append(np.concatenate(row, 1))
    return np.concatenate([header] + body, 0)


def write_side_by_side(path: str,
                       columns: Sequence[Tuple[str, Sequence[np.ndarray]]],
                       rows: Sequence[int]) -> None:
    """``labelled_grid(columns, rows)`` as a PNG, written atomically."""
    write_png_atomic(path, labelled_grid(columns, rows))


def write_metrics(work_dir: str, rows: Sequence[dict], note: str
                  ) -> Tuple[str, str]:
    """``metrics.json`` (the rows) and ``metrics.md`` (a table and ``note``)
    in ``work_dir``, each written atomically.

    Returns:
        tuple: the two paths.
    """
    import json
    json_path = osp.join(work_dir, 'metrics.json')
    with atomic_open(json_path, 'w') as f:
        json.dump(list(rows), f, indent=2)
    table = '| method | PSNR (dB) | SSIM |\n| --- | --- | --- |\n' + ''.join(
        f"| {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} |\n"
        for r in rows)
    md_path = osp.join(work_dir, 'metrics.md')
    with atomic_open(md_path, 'w') as f:
        f.write(table + '\n' + note + '\n')
    return json_path, md_path


def latest_samples(work_dir: str) -> Optional[str]:
    """The newest ``samples/iter_<n>.png`` of a StyleGAN2 run, or None."""
    folder = osp.join(work_dir, 'samples')
    if not osp.isdir(folder):
        return None
    found = []
    for name in os.listdir(folder):
        stem, ext = osp.splitext(name)
        if ext == '.png' and stem.startswith('iter_') and \
                stem[len('iter_'):].isdigit():
            found.append((int(stem[len('iter_'):]), name))
    return osp.join(folder, max(found)[1]) if found else None


def copy_enlarged(src: str, dst: str, min_side: int = MIN_TILE * 4) -> None:
    """Copy the PNG ``src`` to ``dst`` atomically, enlarged (nearest, an
    integer factor) until its shorter side is at least ``min_side``."""
    import imageio.v3 as iio
    img = iio.imread(src)
    factor = max(1, -(-min_side // min(img.shape[:2])))
    if img.ndim == 2:
        img = img[..., None]
    write_png_atomic(dst, np.kron(img, np.ones((factor, factor, 1),
                                               img.dtype)))
