"""Benchmark super-resolution models and a bicubic baseline on the same data.

The public entry point; the work is done in ``glean_plugin.analysis``, one
concern a module: ``paired_data`` (reading the pairs), ``quality`` (PSNR,
SSIM, LPIPS, identity), ``measure`` (latency, FLOPs, peak memory: shared
with the speed harness), ``model_runs`` (model specs and one result row per
model), ``grid`` (the labelled image grid) and ``report`` (Markdown, CSV,
JSON).

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
from ..analysis.grid import grid_rows, image_grid
from ..analysis.measure import (MIB, TimingSettings, count_flops,
                                measure_latency, measure_peak_memory)
from ..analysis.model_runs import (BICUBIC, BenchmarkResult, ModelSpec,
                                   benchmark_bicubic, benchmark_model,
                                   inference_settings, model_specs,
                                   run_generator)
from ..analysis.paired_data import GT_FOLDER, PairedData, load_paired_data
from ..analysis.quality import (QUALITY_KEYS, ImageQuality,
                                NetworkMetricStatus, build_identity,
                                build_lpips)
from ..analysis.report import (DEFINITIONS, RESULT_FILES, BenchmarkReport,
                               exit_status, plan_result_files, short_reason,
                               write_report)
from ..hardware import device_name

__all__ = [
    'BICUBIC', 'DEFINITIONS', 'GT_FOLDER', 'MIB', 'QUALITY_KEYS',
    'RESULT_FILES', 'BenchmarkReport', 'BenchmarkResult', 'ImageQuality',
    'ModelSpec', 'NetworkMetricStatus', 'PairedData', 'TimingSettings',
    'benchmark_bicubic', 'benchmark_model', 'build_identity', 'build_lpips',
    'count_flops', 'device_name', 'exit_status', 'grid_rows', 'image_grid',
    'inference_settings', 'load_paired_data', 'measure_latency',
    'measure_peak_memory', 'model_specs', 'plan_result_files',
    'run_generator', 'short_reason', 'write_report'
]
