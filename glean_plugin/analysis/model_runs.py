"""Run models and the bicubic baseline on paired data: one
``BenchmarkResult`` row each, measured (``measure``) and scored
(``quality``)."""
import os.path as osp
import statistics
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config

from ..apis.generator import (InferenceSettings, init_generator, load_config,
                              resolve_device)
from ..apis.inference import format_shape, generator_shapes, matlab_resize
from ..checkpoint import format_key_list
from .measure import (MIB, TimingSettings, count_flops, measure_latency,
                      measure_peak_memory)
from .paired_data import PairedData
from .quality import QUALITY_KEYS, ImageQuality, describe_error

__all__ = ['BICUBIC', 'BenchmarkResult', 'ModelSpec', 'benchmark_bicubic',
           'benchmark_model', 'inference_settings', 'model_specs',
           'run_generator']

# The pseudo-config of the MATLAB-like bicubic baseline.
BICUBIC = 'bicubic'
MAX_VALUE = 255


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
        return _skipped(spec, describe_error(err))
    try:
        return _benchmark_generator(spec, generator, settings, data, quality,
                                    timing, device, keep)
    except Exception as err:  # e.g. out of memory: a row, not a crash
        return _skipped(spec, f'failed while running: {describe_error(err)}')


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
                        f'{describe_error(err)}')
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
