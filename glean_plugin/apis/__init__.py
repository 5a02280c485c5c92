"""Inference without ground truth: super-resolution and retouching.

Example::

    from glean_plugin.apis import (InferenceSettings, init_generator,
                                   super_resolve)
    generator = init_generator('configs/glean_cat_8x.py', 'glean_cat_8x.pth')
    settings = InferenceSettings.from_config('configs/glean_cat_8x.py')
    sr = super_resolve(generator, [lr_rgb_uint8], settings)[0]

Shapes follow the generator's ``input_shape``/``output_shape`` (rectangular
GLEANs such as the LSUN car ones included); ``fit_input_shape`` fits other
images keeping their aspect ratio (letterbox or centre crop).

Benchmarks against ground truth (any MMagic SR generator and a bicubic
baseline): ``glean_plugin.apis.benchmark``, ``tools/benchmark.py``.
"""
from .benchmark import (BenchmarkReport, BenchmarkResult, ImageQuality,
                        ModelSpec, PairedData, TimingSettings,
                        benchmark_bicubic, benchmark_model, load_paired_data,
                        run_generator)
from .files import (InferenceSummary, InputSkippedWarning, collect_images,
                    lr_path_for, plan_outputs, read_image, retouch_file,
                    super_resolve_files, write_png_atomic)
from .generator import (InferenceSettings, init_generator, load_config,
                        load_generator_state, resolve_device)
from .inference import (DEFAULT_RESIZE_MODE, RESIZE_MODES, InputResizedWarning,
                        InputSizeError, fit_input_shape, format_shape,
                        generator_shapes, letterbox_value, matlab_resize,
                        retouch, retouch_input, super_resolve)

__all__ = [
    'BenchmarkReport', 'BenchmarkResult', 'ImageQuality', 'ModelSpec',
    'PairedData', 'TimingSettings', 'benchmark_bicubic', 'benchmark_model',
    'load_paired_data', 'run_generator',
    'DEFAULT_RESIZE_MODE', 'RESIZE_MODES',
    'InferenceSettings', 'InferenceSummary', 'InputResizedWarning',
    'InputSizeError', 'InputSkippedWarning', 'collect_images',
    'fit_input_shape', 'format_shape', 'generator_shapes', 'init_generator',
    'letterbox_value', 'load_config', 'load_generator_state', 'lr_path_for',
    'matlab_resize', 'plan_outputs', 'read_image', 'resolve_device',
    'retouch', 'retouch_file', 'retouch_input', 'super_resolve',
    'super_resolve_files', 'write_png_atomic'
]
