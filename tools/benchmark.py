"""Benchmark SR models and a MATLAB-like bicubic baseline on the same pairs.

Example::

    python tools/benchmark.py \\
        --configs configs/glean_cat_8x.py my_edsr_x8.py \\
        --checkpoints glean_cat_8x.pth edsr_x8.pth \\
        --data data/cat_test --scale 8 --out-dir work_dirs/benchmark_cat

DATA must hold GT/ and BIx<scale>_down/ (LR images named as their GT), the
layout tools/prepare_data.py writes; the images are those of its meta-info
file (--meta-file, else its only meta_info*.txt, else all of GT/). Each
config is any MMagic SR config whose model has a generator (this plugin's
GLEAN, MMagic's GLEAN through glean_plugin.dropin, EDSR, ESRGAN/RRDBNet,
Real-ESRGAN, SRCNN, ...; rectangular GLEANs such as glean_car_8x take LR
images of their input shape), with one checkpoint per config in the same
order;
'bicubic' among the configs places the baseline (always included, first by
default; it takes no checkpoint). Each model runs on every LR image with its
config's normalisation.

Reports PSNR, SSIM (MMagic's functions, RGB, --crop-border), LPIPS (offline
weights, else reported unavailable), identity similarity (--identity),
parameters, GFLOPs and latency of one image, peak memory of one image. A
model whose scale or input size does not fit the data, or whose config or
checkpoint is broken, is a skipped row with the reason. Writes
benchmark.{md,csv,json} and benchmark_grid.png (LR | bicubic | models | GT)
into --out-dir, refusing to replace earlier results unless --overwrite.

Exit status: 0; 1 if models were given but none could be benchmarked; 2 for
bad arguments or data.
"""
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.analysis.benchmark_cli import main
from glean_plugin.cli import run_tool

if __name__ == '__main__':
    sys.exit(run_tool(main))
