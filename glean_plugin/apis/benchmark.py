"""Benchmark super-resolution models and a bicubic baseline on the same data.

Every model runs through its config's generator with its config's
normalisation (mean/std, channel order: see ``InferenceSettings``), on the
LR images of a paired data set (``GT/`` and ``BIx<scale>_down/``, the layout
``tools/prepare_data.py`` writes), one image at a time. Each model gets:

- PSNR and SSIM from MMagic's functions (``mmagic.evaluation.metrics``), on
  RGB [0, 255] images, no border crop unless asked, as the configs' metrics;
  outputs are compared as 8-bit images (rounded, as saved), like the bicubic
  baseline (MMagic's test loop compares unrounded floats: slightly
  different values);
- LPIPS and identity similarity (this plugin's metrics), when their weights
  are there;
- parameters, FLOPs of one image (``FlopCounterMode``: 2 FLOPs per
  multiply-accumulate of convolutions and matrix products; element-wise ops,
  activations and interpolation are not counted), latency of one image
  (median of timed forwards after warm-up ones) and peak memory of one image
  (see ``measure_peak_memory``).

A model whose input shape or scale does not fit the data (GLEAN-like models
take their input shape only, rectangular ones included), or whose config or
checkpoint is broken, becomes a skipped result with the reason.

Example::

    data = load_paired_data('data/cat_test', scale=8)
    quality = ImageQuality()
    spec = ModelSpec('glean', 'configs/glean_cat_8x.py', 'glean_cat_8x.pth')
    results = [benchmark_bicubic(data, quality),
               benchmark_model(spec, data, quality)]
    print(BenchmarkReport(data, results).to_markdown())
"""
import contextlib
import csv
import datetime
import glob
import io
import json
import os
import os.path as osp
import platform
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

from ..checkpoint import format_key_list
from ..datasets.prepare import IMAGE_EXTENSIONS
from ..fileio import atomic_open
from .files import read_image, write_png_atomic
from .generator import (InferenceSettings, init_generator,
                        load_config, resolve_device)
from .inference import format_shape, generator_shapes, matlab_resize

__all__ = [
    'BICUBIC', 'RESULT_FILES', 'BenchmarkReport', 'BenchmarkResult',
    'ImageQuality', 'ModelSpec', 'NetworkMetricStatus', 'PairedData',
    'TimingSettings', 'benchmark_bicubic', 'benchmark_model',
    'build_identity', 'build_lpips', 'count_flops', 'device_name',
    'grid_rows',
    'image_grid', 'inference_settings', 'load_paired_data',
    'measure_latency', 'measure_peak_memory', 'model_specs',
    'plan_result_files', 'run_generator', 'short_reason', 'write_report'
]

# The pseudo-config of the MATLAB-like bicubic baseline.
BICUBIC = 'bicubic'
GT_FOLDER = 'GT'
LR_FOLDER_PATTERN = re.compile(r'^BIx(\d+)_down$')
META_GLOB = 'meta_info*.txt'
# What ``write_report`` writes into the output folder.
RESULT_FILES = {
    'markdown': 'benchmark.md',
    'csv': 'benchmark.csv',
    'json': 'benchmark.json',
    'grid': 'benchmark_grid.png',
}
MAX_VALUE = 255
MIB = 2**20
# Random metric weights (test mode) are drawn from this seed, so that runs
# can be compared.
RANDOM_WEIGHTS_SEED = 0
# Reasons longer than this are cut in the Markdown table (JSON and CSV keep
# them whole).
MAX_REASON_CHARS = 160
QUALITY_KEYS = ('psnr', 'ssim', 'lpips', 'identity')
# Lines of the profiler backend's (Kineto's) own log, e.g.
# "ERROR:2026-01-01 12:00:00 123:123 DeviceProperties.cpp:56] ..."
_KINETO_LOG_LINE = re.compile(
    rb'^[A-Z]+:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \d+:\d+ \S+\.cpp:\d+\]')

DEFINITIONS = {
    'psnr': 'PSNR in dB, MMagic psnr() on 8-bit RGB output vs GT, mean over '
            'images',
    'ssim': 'SSIM, MMagic ssim() on 8-bit RGB output vs GT, mean over images',
    'lpips': 'LPIPS v0.1 (lower is better), mean over images',
    'identity': 'ArcFace IR-SE50 cosine similarity of output and GT, mean '
                'over images',
    'params': 'generator parameters (buffers not counted)',
    'gflops': 'GFLOPs of one forward of one LR image: torch FlopCounterMode, '
              '2 FLOPs per multiply-accumulate of convolutions and matrix '
              'products (element-wise ops, activations, interpolation not '
              'counted)',
    'latency_ms': 'median wall time of the generator forward on one LR image '
                  '(normalisation and 8-bit conversion excluded), after '
                  'warm-up forwards; CUDA synchronised. The bicubic baseline '
                  'is MMagic\'s MATLAB-like resize in numpy on the CPU',
    'peak_memory_mib': 'peak memory PyTorch allocated during one forward of '
                       'one LR image, on top of what was allocated before it '
                       '(weights and input not counted; activations, '
                       'workspaces and output counted): CUDA '
                       'max_memory_allocated, CPU the running total of '
                       'torch.profiler allocation records',
}


def _describe(err: BaseException) -> str:
    return f'{type(err).__name__}: {err}'


# --------------------------------------------------------------------- data

@dataclass(frozen=True)
class PairedData:
    """LR/GT image pairs of one scale, uint8 RGB.

    Args:
        root (str): the data folder.
        scale (int): GT side / LR side.
        lr_folder (str): the LR folder inside ``root``, ``BIx<scale>_down``.
        meta_file (str, optional): the meta-info file the names came from;
            None when every image of ``GT/`` was taken.
        names (tuple[str]): image file names (in ``GT/``).
        lrs (tuple[ndarray]): uint8 (h, w, 3) LR images.
        gts (tuple[ndarray]): uint8 (h * scale, w * scale, 3) GT images.
    """

    root: str
    scale: int
    lr_folder: str
    meta_file: Optional[str]
    names: Tuple[str, ...]
    lrs: Tuple[np.ndarray, ...]
    gts: Tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.names)

    def summary(self) -> dict:
        """JSON-ready description (no pixels)."""
        sizes = sorted({f'{g.shape[1]}x{g.shape[0]}' for g in self.gts})
        return dict(root=self.root, scale=self.scale,
                    lr_folder=self.lr_folder, meta_file=self.meta_file,
                    num_images=len(self), gt_sizes=sizes)


def _lr_folders(root: str) -> Dict[int, str]:
    """``{scale: 'BIx<scale>_down'}`` of the LR folders in ``root``."""
    folders = {}
    for name in sorted(os.listdir(root)):
        match = LR_FOLDER_PATTERN.match(name)
        if match and osp.isdir(osp.join(root, name)):
            folders[int(match.group(1))] = name
    return folders


def _read_meta_file(path: str) -> List[str]:
    """Image names of a meta-info file: the first field of each line."""
    with open(path) as f:
        names = [line.split()[0] for line in f if line.strip()]
    if not names:
        raise ValueError(f'meta-info file {path!r} names no image')
    return names


def _image_names(root: str, gt_dir: str,
                 meta_file: Optional[str]) -> Tuple[List[str], Optional[str]]:
    """The names to benchmark and the meta-info file they came from."""
    if meta_file is None:
        found = sorted(glob.glob(osp.join(root, META_GLOB)))
        if len(found) > 1:
            raise ValueError(
                f'{root!r} holds several meta-info files '
                f'({", ".join(osp.basename(p) for p in found)}): name the '
                'one to use (meta_file / --meta-file)')
        meta_file = found[0] if found else None
    elif not osp.isabs(meta_file) and not osp.isfile(meta_file):
        meta_file = osp.join(root, meta_file)
    if meta_file is not None:
        if not osp.isfile(meta_file):
            raise FileNotFoundError(f'meta-info file not found: {meta_file!r}')
        return _read_meta_file(meta_file), meta_file
    names = sorted(n for n in os.listdir(gt_dir)
                   if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise ValueError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in '
                         f'{gt_dir!r}')
    return names, None


def _lr_path(lr_dir: str, name: str) -> Optional[str]:
    """The LR file of GT ``name``: the same name, else the same stem .png."""
    for candidate in (name, osp.splitext(name)[0] + '.png'):
        path = osp.join(lr_dir, candidate)
        if osp.isfile(path):
            return path
    return None


def load_paired_data(root: str,
                     scale: Optional[int] = None,
                     meta_file: Optional[str] = None,
                     max_images: Optional[int] = None) -> PairedData:
    """Read the LR/GT pairs of a data folder.

    The folder must hold ``GT/`` and ``BIx<scale>_down/`` (LR images named as
    their GT, or with the same stem and .png). The images are those of a
    meta-info file (first field of each line, as MMagic's
    ``BasicImageDataset`` reads it): ``meta_file``, else the folder's only
    ``meta_info*.txt``, else every image in ``GT/`` (sorted).

    Args:
        root (str): the data folder.
        scale (int, optional): which ``BIx<scale>_down`` to read; may be
            None when the folder has exactly one LR folder.
        meta_file (str, optional): meta-info file (a path, or a name inside
            ``root``).
        max_images (int, optional): take only the first N images.

    Returns:
        PairedData: the pairs, in meta-info (or sorted) order.

    Raises:
        FileNotFoundError: no such folder, no ``GT/`` or LR folder, a missing
            meta-info file or LR image.
        ValueError: several LR folders and no ``scale``, several meta-info
            files and no ``meta_file``, a GT image whose size is not
            ``scale`` times its LR image's, or a bad ``max_images``.
    """
    if max_images is not None and (not isinstance(max_images, int)
                                   or max_images < 1):
        raise ValueError(f'max_images must be a positive int, got '
                         f'{max_images!r}')
    if not osp.isdir(root):
        raise FileNotFoundError(f'data folder not found: {root!r}')
    gt_dir = osp.join(root, GT_FOLDER)
    layout = (f'expected {GT_FOLDER}/ and BIx<scale>_down/ folders in it, '
              'the layout tools/prepare_data.py writes')
    if not osp.isdir(gt_dir):
        raise FileNotFoundError(f'{root!r} has no {GT_FOLDER}/ folder: '
                                f'{layout}')
    folders = _lr_folders(root)
    if scale is None:
        if len(folders) != 1:
            found = ', '.join(folders.values()) or 'none'
            raise ValueError(f'{root!r} holds {len(folders)} LR folders '
                             f'({found}): give the scale (--scale)')
        scale = next(iter(folders))
    elif scale not in folders:
        found = ', '.join(folders.values()) or 'none'
        raise FileNotFoundError(f'{root!r} has no BIx{scale}_down/ folder '
                                f'(LR folders there: {found}); {layout}')
    lr_dir = osp.join(root, folders[scale])
    names, meta_path = _image_names(root, gt_dir, meta_file)
    names = names[:max_images]
    lr_paths = [_lr_path(lr_dir, n) for n in names]
    missing = [n for n, p in zip(names, lr_paths) if p is None]
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} image(s) have no LR image in {lr_dir!r}: '
            f'{format_key_list(missing)}')
    lrs, gts, wrong = [], [], []
    for name, lr_path in zip(names, lr_paths):
        lr = read_image(lr_path)
        gt = read_image(osp.join(gt_dir, name))
        if gt.shape != (lr.shape[0] * scale, lr.shape[1] * scale,
                        lr.shape[2]):
            wrong.append(f'{name} (GT {gt.shape[1]}x{gt.shape[0]}, LR '
                         f'{lr.shape[1]}x{lr.shape[0]})')
        lrs.append(lr)
        gts.append(gt)
    if wrong:
        raise ValueError(f'{len(wrong)} GT image(s) are not x{scale} their LR '
                         f'image: {format_key_list(wrong)}')
    return PairedData(root, scale, folders[scale], meta_path, tuple(names),
                      tuple(lrs), tuple(gts))


# ------------------------------------------------------------------ metrics

@dataclass(frozen=True)
class NetworkMetricStatus:
    """Whether a network metric (LPIPS, identity) was computed, and how.

    Args:
        name (str): 'lpips' or 'identity'.
        available (bool): computed.
        random (bool): with random weights (a test mode: not the metric).
        weights (str, optional): the weights file used.
        reason (str, optional): why it is unavailable.
    """

    name: str
    available: bool
    random: bool = False
    weights: Optional[str] = None
    reason: Optional[str] = None

    def describe(self) -> str:
        """One line for reports."""
        if not self.available:
            return f'unavailable: {self.reason}'
        if self.random:
            return ('RANDOM weights (test mode): the values are not the '
                    'metric')
        return f'weights {self.weights}'


def _build_network_metric(cls, name: str, path_key: str, pretrained_key: str,
                          path: Optional[str], random: bool,
                          device: Optional[Union[str, torch.device]],
                          default_path: Callable[[], str], expected: str,
                          **kwargs):
    if random and path is not None:
        raise ValueError(f'{name}: give weights or ask for random ones, not '
                         'both')
    options = {path_key: path, pretrained_key: not random}
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            metric = cls(channel_order='RGB', device=device, **options,
                         **kwargs)
    except FileNotFoundError as err:
        if random:
            raise
        if path is not None:
            raise FileNotFoundError(
                f'{name} weights not found: {path!r}; expected {expected} '
                'there (download it to that path, or give another)') from err
        return None, NetworkMetricStatus(name, False, reason=str(err))
    weights = None if random else (path or default_path())
    return metric, NetworkMetricStatus(name, True, random, weights)


def build_lpips(device: Optional[Union[str, torch.device]] = 'cpu',
                backbone_path: Optional[str] = None,
                random: bool = False,
                net: str = 'alex'):
    """This plugin's ``LPIPS`` metric, or why it cannot be built.

    Args:
        device (str | torch.device, optional): where the network runs.
        backbone_path (str, optional): torchvision backbone weights; None
            reads torchvision's cache.
        random (bool): random backbone (tests only), seeded with
            ``RANDOM_WEIGHTS_SEED``.
        net (str): 'alex', 'vgg' or 'squeeze'.

    Returns:
        tuple[LPIPS | None, NetworkMetricStatus]: the metric (None when the
        cached weights are missing) and its status.

    Raises:
        FileNotFoundError: ``backbone_path`` does not exist.
        CheckpointMismatchError: the weights do not fit.
        ValueError: both ``backbone_path`` and ``random``.
    """
    from ..evaluation.lpips_metric import LPIPS, lpips_backbone_cache_path
    cached, url = lpips_backbone_cache_path(net)
    return _build_network_metric(
        LPIPS, 'lpips', 'backbone_path', 'backbone_pretrained', backbone_path,
        random, device, lambda: cached,
        f"torchvision's ImageNet weights of the {net} backbone, {url}",
        net=net)


def build_identity(device: Optional[Union[str, torch.device]] = 'cpu',
                   arcface_path: Optional[str] = None,
                   random: bool = False):
    """This plugin's ``IdentitySimilarity`` metric, or why it cannot be built.

    Args:
        device (str | torch.device, optional): where the network runs.
        arcface_path (str, optional): IR-SE50 weights; None reads torch.hub's
            cache.
        random (bool): random weights (tests only), seeded with
            ``RANDOM_WEIGHTS_SEED``.

    Returns:
        tuple[IdentitySimilarity | None, NetworkMetricStatus]: see
        ``build_lpips``.

    Raises:
        FileNotFoundError: ``arcface_path`` does not exist.
        CheckpointMismatchError: the weights do not fit.
        ValueError: both ``arcface_path`` and ``random``.
    """
    from ..evaluation.identity import (ARCFACE_URL, IdentitySimilarity,
                                       arcface_cache_path)
    return _build_network_metric(
        IdentitySimilarity, 'identity', 'arcface_path', 'arcface_pretrained',
        arcface_path, random, device, arcface_cache_path,
        f'the ArcFace IR-SE50 weights, {ARCFACE_URL}')


class ImageQuality:
    """Per-image PSNR and SSIM (MMagic's functions), LPIPS and identity.

    Args:
        crop_border (int): pixels cropped from each edge for PSNR and SSIM
            (MMagic's ``crop_border``). Default: 0.
        lpips (LPIPS, optional): from ``build_lpips``; None: not computed.
        identity (IdentitySimilarity, optional): from ``build_identity``.
    """

    def __init__(self, crop_border: int = 0, lpips=None,
                 identity=None) -> None:
        if not isinstance(crop_border, int) or crop_border < 0:
            raise ValueError(f'crop_border must be an int >= 0, got '
                             f'{crop_border!r}')
        self.crop_border = crop_border
        self.networks = {k: m for k, m in (('lpips', lpips),
                                           ('identity', identity))
                         if m is not None}

    def drop_failing_networks(self, images: Sequence[np.ndarray]
                              ) -> Dict[str, str]:
        """Try each network metric on the smallest image; drop those that
        fail (e.g. LPIPS' AlexNet on images under about 32 pixels).

        Args:
            images (Sequence[ndarray]): uint8 (H, W, 3) images, e.g. the GT.

        Returns:
            dict[str, str]: name -> why, for each metric dropped.
        """
        smallest = min(images, key=lambda img: img.shape[0] * img.shape[1])
        chw = np.ascontiguousarray(smallest.transpose(2, 0, 1))
        dropped = {}
        for key, metric in list(self.networks.items()):
            try:
                metric.process_image(chw, chw)
            except (RuntimeError, ValueError) as err:
                del self.networks[key]
                dropped[key] = (f'fails on a {format_shape(smallest.shape)} '
                                f'image: {_describe(err)}')
        return dropped

    @property
    def keys(self) -> Tuple[str, ...]:
        """The metrics computed, in ``QUALITY_KEYS`` order."""
        return tuple(k for k in QUALITY_KEYS
                     if k in ('psnr', 'ssim') or k in self.networks)

    def __call__(self, pred: np.ndarray, gt: np.ndarray) -> Dict[str, float]:
        """Metrics of one image pair.

        Args:
            pred (ndarray): uint8 (H, W, 3) RGB output.
            gt (ndarray): uint8 (H, W, 3) RGB ground truth.

        Returns:
            dict[str, float]: one value per key of ``keys``.
        """
        from mmagic.evaluation.metrics.psnr import psnr
        from mmagic.evaluation.metrics.ssim import ssim
        values = dict(psnr=float(psnr(pred, gt, self.crop_border)),
                      ssim=float(ssim(pred, gt, self.crop_border)))
        pred_chw = np.ascontiguousarray(pred.transpose(2, 0, 1))
        gt_chw = np.ascontiguousarray(gt.transpose(2, 0, 1))
        for key, metric in self.networks.items():
            values[key] = metric.process_image(gt_chw, pred_chw)
        return values


# -------------------------------------------------------------- measurement

@dataclass(frozen=True)
class TimingSettings:
    """How latency is measured.

    Args:
        warmup (int): untimed forwards first.
        repeats (int): timed forwards; the median is reported.
    """

    warmup: int = 2
    repeats: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f'warmup must be an int >= 0, got '
                             f'{self.warmup!r}')
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise ValueError(f'repeats must be an int >= 1, got '
                             f'{self.repeats!r}')


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of ``fn()`` (``FlopCounterMode``: 2 per multiply-accumulate)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def measure_latency(fn: Callable[[], Any], device: torch.device,
                    timing: TimingSettings = TimingSettings()) -> List[float]:
    """Seconds of each timed call of ``fn()``, after the warm-up calls.

    Args:
        fn (callable): the work, e.g. one forward.
        device (torch.device): CUDA is synchronised around each call.
        timing (TimingSettings): warm-up and timed calls.

    Returns:
        list[float]: ``timing.repeats`` durations in seconds.
    """
    for _ in range(timing.warmup):
        fn()
    _synchronize(device)
    times = []
    for _ in range(timing.repeats):
        start = time.perf_counter()
        fn()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return times


@contextlib.contextmanager
def _without_kineto_log() -> Iterator[None]:
    """Drop the profiler backend's log lines from stderr (e.g. a CUDA build
    of torch on a machine without GPU reports that it found none); anything
    else written to stderr meanwhile is passed on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(True)
                    if not _KINETO_LOG_LINE.match(line)]
            if kept:
                sys.stderr.write(b''.join(kept).decode(errors='replace'))
                sys.stderr.flush()


def _cpu_peak_bytes(fn: Callable[[], Any]) -> int:
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    with _without_kineto_log():
        with profile(activities=[ProfilerActivity.CPU],
                     profile_memory=True) as prof:
            fn()
    # kineto_results holds every allocation (+bytes) and free (-bytes);
    # the per-op sums of prof.events() would hide peaks inside an op
    events = prof.profiler.kineto_results.events()
    records = sorted((e.start_ns(), i, e.nbytes())
                     for i, e in enumerate(events)
                     if e.name() == '[memory]'
                     and e.device_type() == DeviceType.CPU)
    live = peak = 0
    for _, _, nbytes in records:
        live += nbytes
        peak = max(peak, live)
    return peak


def measure_peak_memory(fn: Callable[[], Any],
                        device: torch.device) -> Optional[int]:
    """Peak bytes PyTorch allocates during ``fn()``, beyond those allocated
    before it.

    On CUDA: ``torch.cuda.max_memory_allocated`` minus
    ``memory_allocated`` before the call. On CPU: the peak of the running
    total of ``torch.profiler``'s allocation records (``profile_memory``),
    which see every tensor and workspace PyTorch's CPU allocator hands out
    (not memory that libraries allocate on their own).

    Args:
        fn (callable): the work, e.g. one forward.
        device (torch.device): where it runs.

    Returns:
        int | None: bytes; None on other devices.
    """
    if device.type == 'cuda':
        _synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        _synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    if device.type == 'cpu':
        return _cpu_peak_bytes(fn)
    return None


# ------------------------------------------------------------------- models

@dataclass(frozen=True)
class ModelSpec:
    """A model to benchmark.

    Args:
        name (str): its row name.
        config (str, optional): config path; None for the bicubic baseline.
        checkpoint (str, optional): checkpoint path; None for bicubic.
    """

    name: str
    config: Optional[str] = None
    checkpoint: Optional[str] = None

    @property
    def is_bicubic(self) -> bool:
        return self.config is None


def _stem(path: str) -> str:
    return osp.splitext(osp.basename(path.rstrip('/')))[0] or path


def model_specs(configs: Sequence[str],
                checkpoints: Sequence[str]) -> List[ModelSpec]:
    """Pair configs with checkpoints and name the rows.

    ``'bicubic'`` among the configs places the bicubic baseline there (it
    takes no checkpoint); otherwise it comes first. Rows are named after the
    config files, with the checkpoint's name added where a config repeats.

    Args:
        configs (Sequence[str]): config paths and optionally ``'bicubic'``.
        checkpoints (Sequence[str]): one per config other than 'bicubic', in
            order.

    Returns:
        list[ModelSpec]: bicubic and the models, in table order.

    Raises:
        ValueError: the counts differ, or 'bicubic' is named twice.
    """
    models = [c for c in configs if c != BICUBIC]
    if len(configs) - len(models) > 1:
        raise ValueError(f"'{BICUBIC}' is named {len(configs) - len(models)} "
                         'times among the configs')
    if len(checkpoints) != len(models):
        raise ValueError(
            f'{len(models)} config(s) besides {BICUBIC!r} but '
            f'{len(checkpoints)} checkpoint(s): give one checkpoint per '
            f"config, in the same order ('{BICUBIC}' takes none)")
    stems = [_stem(c) for c in models]
    specs, taken, ckpts = [], {BICUBIC}, iter(checkpoints)
    for config in configs if BICUBIC in configs else [BICUBIC, *configs]:
        if config == BICUBIC:
            specs.append(ModelSpec(BICUBIC))
            continue
        checkpoint = next(ckpts)
        name = _stem(config)
        if stems.count(name) > 1 or name in taken:
            name = f'{name}:{_stem(checkpoint)}'
        base, k = name, 2
        while name in taken:
            name, k = f'{base}#{k}', k + 1
        taken.add(name)
        specs.append(ModelSpec(name, config, checkpoint))
    return specs


@dataclass
class BenchmarkResult:
    """One row of the benchmark.

    Args:
        name (str): row name.
        config (str, optional): config path (None: bicubic).
        checkpoint (str, optional): checkpoint path.
        status (str): 'ok' or 'skipped'.
        reason (str, optional): why it was skipped.
        scale (float, optional): the model's scale, where known.
        metrics (dict[str, float]): mean PSNR, SSIM, ... over the images.
        per_image (list[dict]): image name and metrics of each image.
        params (int, optional): generator parameters (0 for bicubic).
        flops (int, optional): FLOPs of one image.
        latency_s (list[float]): timed runs of one image, seconds.
        peak_memory_bytes (int, optional): see ``measure_peak_memory``.
        kept (dict[int, ndarray]): outputs kept for the grid, by image index.
    """

    name: str
    config: Optional[str] = None
    checkpoint: Optional[str] = None
    status: str = 'ok'
    reason: Optional[str] = None
    scale: Optional[float] = None
    metrics: Dict[str, float] = field(default_factory=dict)
    per_image: List[Dict[str, Any]] = field(default_factory=list)
    params: Optional[int] = None
    flops: Optional[int] = None
    latency_s: List[float] = field(default_factory=list)
    peak_memory_bytes: Optional[int] = None
    kept: Dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == 'ok'

    @property
    def latency_ms(self) -> Optional[float]:
        """Median latency in milliseconds."""
        if not self.latency_s:
            return None
        return statistics.median(self.latency_s) * 1e3

    def summary(self) -> Dict[str, Any]:
        """The scalar fields of a table row (``None`` where not measured)."""
        row = dict(name=self.name, status=self.status)
        row.update({k: self.metrics.get(k) for k in QUALITY_KEYS})
        row.update(
            params=self.params,
            gflops=None if self.flops is None else self.flops / 1e9,
            latency_ms=self.latency_ms,
            peak_memory_mib=(None if self.peak_memory_bytes is None else
                             self.peak_memory_bytes / MIB),
            scale=self.scale, config=self.config, checkpoint=self.checkpoint,
            reason=self.reason)
        return row

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready (no images)."""
        return dict(self.summary(), latency_s=self.latency_s,
                    peak_memory_bytes=self.peak_memory_bytes,
                    per_image=self.per_image)


def _skipped(spec: ModelSpec, reason: str, scale: Optional[float] = None
             ) -> BenchmarkResult:
    return BenchmarkResult(spec.name, spec.config, spec.checkpoint,
                           status='skipped', reason=reason, scale=scale)


def _evaluate(result: BenchmarkResult, data: PairedData,
              quality: ImageQuality, outputs: Iterator[np.ndarray],
              keep: Sequence[int]) -> None:
    """Fill in the metrics of ``outputs`` (one per image, in order)."""
    for i, (name, out, gt) in enumerate(zip(data.names, outputs, data.gts)):
        result.per_image.append(dict(image=name, **quality(out, gt)))
        if i in keep:
            result.kept[i] = out
    result.metrics = {
        k: float(np.mean([p[k] for p in result.per_image]))
        for k in quality.keys
    }


def benchmark_bicubic(data: PairedData,
                      quality: ImageQuality,
                      timing: TimingSettings = TimingSettings(),
                      keep: Sequence[int] = (),
                      name: str = BICUBIC) -> BenchmarkResult:
    """The MATLAB-like bicubic baseline (MMagic's ``MATLABLikeResize``).

    Args:
        data (PairedData): the pairs.
        quality (ImageQuality): the metrics.
        timing (TimingSettings): latency of one image (numpy, CPU).
        keep (Sequence[int]): indices of images whose outputs to keep in
            ``kept`` (for the grid).
        name (str): row name.

    Returns:
        BenchmarkResult: params 0; FLOPs and memory not measured (numpy).
    """
    def upscale(lr: np.ndarray) -> np.ndarray:
        return matlab_resize(lr, (lr.shape[0] * data.scale,
                                  lr.shape[1] * data.scale))

    result = BenchmarkResult(name, scale=data.scale, params=0)
    result.latency_s = measure_latency(lambda: upscale(data.lrs[0]),
                                       torch.device('cpu'), timing)
    _evaluate(result, data, quality, map(upscale, data.lrs), keep)
    return result


def inference_settings(config: Union[str, Config]) -> InferenceSettings:
    """``InferenceSettings.from_config`` of a config file or object."""
    return InferenceSettings.from_config(load_config(config))


def _generator_input(img: np.ndarray, settings: InferenceSettings,
                     param: torch.Tensor) -> torch.Tensor:
    """uint8 (H, W, C) RGB -> normalised (1, C, H, W) in the model's order."""
    if settings.channel_order == 'bgr':
        img = img[..., ::-1]
    # the memory layout of super_resolve's batches: the same results
    x = torch.from_numpy(np.ascontiguousarray(img[None])).to(param.device)
    x = x.permute(0, 3, 1, 2).to(param.dtype)
    shape = (1, -1, 1, 1)
    mean = torch.tensor(settings.mean, dtype=param.dtype,
                        device=param.device).view(shape)
    std = torch.tensor(settings.std, dtype=param.dtype,
                       device=param.device).view(shape)
    return (x - mean) / std


def _generator_output(y: torch.Tensor,
                      settings: InferenceSettings) -> np.ndarray:
    """(1, C, H, W) generator output -> uint8 (H, W, C) RGB."""
    shape = (1, -1, 1, 1)
    mean = torch.tensor(settings.mean, dtype=y.dtype,
                        device=y.device).view(shape)
    std = torch.tensor(settings.std, dtype=y.dtype,
                       device=y.device).view(shape)
    y = (y * std + mean).clamp(0, MAX_VALUE).round().to(torch.uint8)
    img = y[0].permute(1, 2, 0).cpu().numpy()
    if settings.channel_order == 'bgr':
        img = img[..., ::-1]
    return np.ascontiguousarray(img)


def run_generator(generator: nn.Module, img: np.ndarray,
                  settings: InferenceSettings) -> np.ndarray:
    """Super-resolve one image with any SR generator (no size check).

    Like ``super_resolve`` (which takes only GLEAN-like fixed-size
    generators): normalised with ``settings``, in its channel order.

    Args:
        generator (nn.Module): runs on the device of its parameters.
        img (ndarray): uint8 (H, W, C) RGB.
        settings (InferenceSettings): the config's normalisation.

    Returns:
        ndarray: uint8 (H', W', C') RGB output.
    """
    x = _generator_input(img, settings, next(generator.parameters()))
    with torch.inference_mode():
        return _generator_output(generator(x), settings)


# (why a model does not fit the data, the model's scale if known)
Mismatch = Tuple[Optional[str], Optional[float]]


def _scale_mismatch(ratio: float, sizes: str, data: PairedData) -> Mismatch:
    ratio = int(ratio) if float(ratio).is_integer() else ratio
    return (f'x{ratio:g} model ({sizes}), the data is x{data.scale} '
            f'({data.lr_folder})', ratio)


def _fixed_size_mismatch(generator: nn.Module, data: PairedData) -> Mismatch:
    """Why a fixed-shape (GLEAN-like, square or rectangular) generator
    cannot take the data."""
    try:
        in_shape, out_shape = generator_shapes(generator)
    except TypeError:
        return None, None
    if out_shape != (in_shape[0] * data.scale, in_shape[1] * data.scale):
        return _scale_mismatch(
            out_shape[1] / in_shape[1], f'{format_shape(in_shape)} -> '
            f'{format_shape(out_shape)}, WxH', data)
    wrong = [f'{n} ({format_shape(lr.shape)})'
             for n, lr in zip(data.names, data.lrs)
             if lr.shape[:2] != in_shape]
    if wrong:
        return (f'takes {format_shape(in_shape)} (WxH) inputs; {len(wrong)} '
                f'of {len(data)} LR images in {data.lr_folder} differ: '
                f'{format_key_list(wrong)}', data.scale)
    return None, data.scale


def _output_mismatch(lr: np.ndarray, out: np.ndarray,
                     data: PairedData) -> Mismatch:
    """Why an output does not fit its GT."""
    (h, w), (oh, ow) = lr.shape[:2], out.shape[:2]
    if out.shape[2] != lr.shape[2]:
        return (f'outputs {out.shape[2]} channels, the data has '
                f'{lr.shape[2]}', None)
    if (oh, ow) == (h * data.scale, w * data.scale):
        return None, data.scale
    if oh % h == 0 and ow % w == 0 and oh // h == ow // w:
        return _scale_mismatch(oh // h, f'{w}x{h} -> {ow}x{oh}, WxH', data)
    return (f'gives a {ow}x{oh} output for a {w}x{h} input; the GT is '
            f'{w * data.scale}x{h * data.scale} (WxH)', None)


def benchmark_model(spec: ModelSpec,
                    data: PairedData,
                    quality: ImageQuality,
                    timing: TimingSettings = TimingSettings(),
                    device: Optional[Union[str, torch.device]] = None,
                    keep: Sequence[int] = ()) -> BenchmarkResult:
    """Benchmark one model's generator on the pairs.

    The generator is built from the config and loaded strictly from the
    checkpoint (``init_generator``), and runs on each LR image with the
    config's normalisation. FLOPs, peak memory and latency are measured on
    the first LR image.

    Args:
        spec (ModelSpec): name, config and checkpoint.
        data (PairedData): the pairs.
        quality (ImageQuality): the metrics.
        timing (TimingSettings): latency measurement.
        device (str | torch.device, optional): default: cuda if available.
        keep (Sequence[int]): indices of images whose outputs to keep.

    Returns:
        BenchmarkResult: status 'skipped' with the reason when the config
        is not an SR model, the config or checkpoint cannot be loaded, the
        model's input shape or scale does not fit the data, or a forward
        fails.
    """
    device = resolve_device(device)
    try:
        cfg = load_config(spec.config)
        model = cfg.get('model') or {}
        if not model.get('generator'):
            return _skipped(spec, 'not an SR model: the config\'s model '
                            f'({model.get("type")}) has no generator')
        settings = inference_settings(cfg)
        generator = init_generator(cfg, spec.checkpoint, device)
    except Exception as err:  # any config or checkpoint failure: a row
        return _skipped(spec, _describe(err))
    try:
        return _benchmark_generator(spec, generator, settings, data, quality,
                                    timing, device, keep)
    except Exception as err:  # e.g. out of memory: a row, not a crash
        return _skipped(spec, f'failed while running: {_describe(err)}')


def _benchmark_generator(spec: ModelSpec, generator: nn.Module,
                         settings: InferenceSettings, data: PairedData,
                         quality: ImageQuality, timing: TimingSettings,
                         device: torch.device,
                         keep: Sequence[int]) -> BenchmarkResult:
    reason, scale = _fixed_size_mismatch(generator, data)
    if reason:
        return _skipped(spec, reason, scale)
    try:
        first = run_generator(generator, data.lrs[0], settings)
    except Exception as err:  # the model cannot take these inputs
        return _skipped(spec, f'forward failed on {data.names[0]} '
                        f'({format_shape(data.lrs[0].shape)}): '
                        f'{_describe(err)}')
    reason, scale = _output_mismatch(data.lrs[0], first, data)
    if reason:
        return _skipped(spec, reason, scale)
    result = BenchmarkResult(spec.name, spec.config, spec.checkpoint,
                             scale=data.scale)
    result.params = sum(p.numel() for p in generator.parameters())
    x = _generator_input(data.lrs[0], settings, next(generator.parameters()))
    with torch.inference_mode():
        result.flops = count_flops(lambda: generator(x))
        result.peak_memory_bytes = measure_peak_memory(lambda: generator(x),
                                                       device)
        result.latency_s = measure_latency(lambda: generator(x), device,
                                           timing)
    outputs = (first if i == 0 else run_generator(generator, lr, settings)
               for i, lr in enumerate(data.lrs))
    _evaluate(result, data, quality, outputs, keep)
    return result


# -------------------------------------------------------------------- grid

def grid_rows(num_images: int, rows: int) -> List[int]:
    """Indices of up to ``rows`` images spread evenly over the data."""
    if num_images < 1 or rows < 1:
        return []
    return sorted({int(i) for i in np.linspace(0, num_images - 1,
                                                min(rows, num_images))})


def image_grid(data: PairedData, results: Sequence[BenchmarkResult],
               rows: Sequence[int], crop: int = 128
               ) -> Tuple[np.ndarray, List[str]]:
    """The same crop of each row's image from every benchmarked model.

    Columns: LR (nearest-neighbour upsampled) | each result that ran, in
    order (the bicubic baseline among them) | GT. The crop is a centred
    square of side ``crop`` (at most the smallest GT side, a multiple of the
    scale), at the same place in every column.

    Args:
        data (PairedData): the pairs.
        results (Sequence[BenchmarkResult]): results keeping the outputs of
            ``rows`` (see ``keep``).
        rows (Sequence[int]): image indices, one grid row each.
        crop (int): crop side in GT pixels.

    Returns:
        tuple[ndarray, list[str]]: uint8 (len(rows) * side,
        columns * side, 3) image and the column names.

    Raises:
        ValueError: no rows, a bad crop, or a result missing a row's output.
    """
    if not rows:
        raise ValueError('the grid needs at least one row')
    shown = [r for r in results if r.ok]
    for result in shown:
        missing = [i for i in rows if i not in result.kept]
        if missing:
            raise ValueError(f'{result.name} did not keep the outputs of '
                             f'images {missing}')
    side = min([crop] + [min(data.gts[i].shape[:2]) for i in rows])
    side -= side % data.scale
    if side < data.scale:
        raise ValueError(f'crop must be at least the scale {data.scale}, got '
                         f'{crop}')
    lr_side = side // data.scale
    grid = []
    for i in rows:
        h, w = data.lrs[i].shape[:2]
        top, left = (h - lr_side) // 2, (w - lr_side) // 2
        lr = data.lrs[i][top:top + lr_side, left:left + lr_side]
        lr = lr.repeat(data.scale, axis=0).repeat(data.scale, axis=1)
        box = (slice(top * data.scale, top * data.scale + side),
               slice(left * data.scale, left * data.scale + side))
        columns = [lr] + [r.kept[i][box] for r in shown] + [data.gts[i][box]]
        grid.append(np.concatenate(columns, axis=1))
    names = ['LR (nearest)'] + [r.name for r in shown] + ['GT']
    return np.concatenate(grid, axis=0), names


# ------------------------------------------------------------------ report

def device_name(device: torch.device) -> str:
    """The CUDA device's name, or the CPU model from /proc/cpuinfo."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def _human_count(n: Optional[int]) -> str:
    if n is None:
        return 'n/a'
    for limit, unit in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
        if n >= limit:
            return f'{n / limit:.3g} {unit}'
    return str(n)


def _fmt(value: Optional[float], spec: str) -> str:
    return 'n/a' if value is None else format(value, spec)


def short_reason(reason: str) -> str:
    """The first line of a reason, at most ``MAX_REASON_CHARS`` long."""
    line = reason.strip().split('\n', 1)[0]
    if len(line) > MAX_REASON_CHARS:
        line = line[:MAX_REASON_CHARS - 3].rstrip() + '...'
    return line


def _status_cell(row: dict) -> str:
    if row['reason'] is None:
        return row['status']
    return f"{row['status']}: {short_reason(row['reason'])}".replace('|', '/')


@dataclass
class BenchmarkReport:
    """The results with what the numbers mean, as Markdown, CSV and JSON.

    Args:
        data (PairedData): the pairs the models ran on.
        results (list[BenchmarkResult]): the rows, in order.
        device (torch.device): where the models ran.
        crop_border (int): PSNR/SSIM border crop.
        timing (TimingSettings): latency measurement.
        networks (list[NetworkMetricStatus]): LPIPS / identity status.
        grid_columns (list[str]): the grid's column names (empty: no grid).
    """

    data: PairedData
    results: List[BenchmarkResult]
    device: torch.device = torch.device('cpu')
    crop_border: int = 0
    timing: TimingSettings = TimingSettings()
    networks: List[NetworkMetricStatus] = field(default_factory=list)
    grid_columns: List[str] = field(default_factory=list)

    def _network(self, name: str) -> Optional[NetworkMetricStatus]:
        return next((s for s in self.networks if s.name == name), None)

    def _columns(self) -> List[Tuple[str, str, Callable[[dict], str]]]:
        """(key, header, formatter) of the Markdown table's columns."""
        columns = [('psnr', 'PSNR (dB)', '.2f'), ('ssim', 'SSIM', '.4f')]
        for key, header in (('lpips', 'LPIPS'), ('identity', 'ID sim')):
            status = self._network(key)
            if status is not None:
                flag = '*' if status.random else ''
                columns.append((key, header + flag, '.4f'))
        out = [(k, h, lambda row, k=k, s=s: _fmt(row[k], s))
               for k, h, s in columns]
        out += [
            ('params', 'params', lambda row: _human_count(row['params'])),
            ('gflops', 'GFLOPs/img', lambda row: _fmt(row['gflops'], '.3g')),
            ('latency_ms', 'latency (ms)',
             lambda row: _fmt(row['latency_ms'], '.3g')),
            ('peak_memory_mib', 'peak mem (MiB)',
             lambda row: _fmt(row['peak_memory_mib'], '.3g')),
            ('status', 'status', _status_cell),
        ]
        return out

    def to_markdown(self) -> str:
        """The table, a line on the data and device, and notes."""
        columns = self._columns()
        lines = [
            f'{len(self.data)} image(s) of {self.data.root} '
            f'({self.data.lr_folder} -> {GT_FOLDER}, x{self.data.scale}); '
            f'PSNR/SSIM on RGB, crop border {self.crop_border}; device '
            f'{self.device} ({device_name(self.device)}), torch '
            f'{torch.__version__}, {torch.get_num_threads()} CPU thread(s).',
            '',
            '| model | ' + ' | '.join(h for _, h, _ in columns) + ' |',
            '|---|' + '---:|' * (len(columns) - 1) + '---|',
        ]
        for result in self.results:
            row = result.summary()
            lines.append(f'| {result.name} | '
                         + ' | '.join(f(row) for _, _, f in columns) + ' |')
        lines.append('')
        for status in self.networks:
            flag = '* ' if status.random else ''
            lines.append(f'- {flag}{status.name}: {status.describe()}')
        lines += [
            f'- GFLOPs/img: {DEFINITIONS["gflops"]}.',
            f'- latency: median of {self.timing.repeats} forward(s) of one LR '
            f'image after {self.timing.warmup} warm-up one(s) '
            '(normalisation excluded); the bicubic baseline is numpy on the '
            'CPU.',
            f'- peak mem: {DEFINITIONS["peak_memory_mib"]}.',
        ]
        if self.grid_columns:
            lines.append(f'- grid ({RESULT_FILES["grid"]}): '
                         + ' | '.join(self.grid_columns) + '.')
        return '\n'.join(lines) + '\n'

    def to_csv(self) -> str:
        """One row per result, full precision, empty where not measured."""
        buffer = io.StringIO()
        rows = [r.summary() for r in self.results]
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]),
                                lineterminator='\n')
        writer.writeheader()
        for row in rows:
            writer.writerow({k: '' if v is None else v
                             for k, v in row.items()})
        return buffer.getvalue()

    def to_json(self) -> Dict[str, Any]:
        """Everything: data, settings, environment, definitions, results."""
        return dict(
            data=self.data.summary(),
            settings=dict(
                device=str(self.device), crop_border=self.crop_border,
                warmup=self.timing.warmup, repeats=self.timing.repeats,
                networks={s.name: dict(available=s.available, random=s.random,
                                       weights=s.weights, reason=s.reason)
                          for s in self.networks}),
            environment=dict(
                torch=torch.__version__, device_name=device_name(self.device),
                threads=torch.get_num_threads(),
                date=datetime.datetime.now().isoformat(timespec='seconds')),
            definitions=DEFINITIONS,
            grid=dict(file=RESULT_FILES['grid'], columns=self.grid_columns)
            if self.grid_columns else None,
            models=[_json_safe(r.to_dict()) for r in self.results])


def _json_safe(value: Any) -> Any:
    """``value`` with infinite/NaN floats (e.g. the PSNR of a perfect
    output) as the strings 'inf', '-inf', 'nan': strict JSON has no such
    numbers."""
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def plan_result_files(out_dir: str, overwrite: bool = False
                      ) -> Dict[str, str]:
    """The result paths in ``out_dir``, checked before any work.

    Args:
        out_dir (str): output folder (need not exist).
        overwrite (bool): allow replacing earlier results.

    Returns:
        dict[str, str]: ``RESULT_FILES`` keys -> paths.

    Raises:
        ValueError: ``out_dir`` is a file.
        FileExistsError: results exist and ``overwrite`` is False.
    """
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ValueError(f'output folder {out_dir!r} is a file')
    paths = {k: osp.join(out_dir, v) for k, v in RESULT_FILES.items()}
    existing = [p for p in paths.values() if osp.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f'results exist: {format_key_list(existing)}; pass overwrite '
            '(--overwrite) to replace them')
    return paths


def write_report(report: BenchmarkReport, paths: Dict[str, str],
                 grid: Optional[np.ndarray] = None) -> List[str]:
    """Write the Markdown, CSV, JSON (and grid PNG), each atomically.

    Args:
        report (BenchmarkReport): the results.
        paths (dict[str, str]): from ``plan_result_files``.
        grid (ndarray, optional): uint8 (H, W, 3) grid image.

    Returns:
        list[str]: the files written.
    """
    os.makedirs(osp.dirname(osp.abspath(paths['json'])), exist_ok=True)
    texts = dict(markdown=report.to_markdown(), csv=report.to_csv(),
                 json=json.dumps(report.to_json(), indent=2,
                                 allow_nan=False) + '\n')
    written = []
    for key, text in texts.items():
        with atomic_open(paths[key], 'w') as f:
            f.write(text)
        written.append(paths[key])
    if grid is not None:
        write_png_atomic(paths['grid'], grid)
        written.append(paths['grid'])
    return written
