"""Benchmark SR models and a MATLAB-like bicubic baseline on the same pairs.

PSNR, SSIM, LPIPS, identity similarity, parameters, GFLOPs, latency and peak
memory of one image, a labelled grid; the options, the data layout and the
exit statuses: ``--help`` (``glean_plugin.analysis.benchmark_cli``).

Example::

    python tools/benchmark.py \\
        --configs configs/glean_cat_8x.py my_edsr_x8.py \\
        --checkpoints glean_cat_8x.pth edsr_x8.pth \\
        --data data/cat_test --scale 8 --out-dir work_dirs/benchmark_cat
"""
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.analysis.benchmark_cli import main
from glean_plugin.cli import run_tool

if __name__ == '__main__':
    sys.exit(run_tool(main))
