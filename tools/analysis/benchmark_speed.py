r"""Speed and memory of GLEANNet vs MMagic's GLEANStyleGANv2, same weights.

Modes: ``forward`` (inference latency, throughput, FLOPs and GFLOP/s next to
a large 3x3 convolution), ``train`` (one GLEAN training iteration, built
from ``--config``), ``memory`` (peak memory of one call, in fresh
processes) and ``stylegan2`` (MMagic's StyleGAN2 training iteration on its
networks and on ours). Each checks parity first and stops with exit status
1 when the implementations disagree. Timed calls alternate between the
implementations; each prints a progress line on stderr. What each mode
measures and how: ``glean_plugin/analysis/speed.py``; the options:
``--help``.

Examples:
    python tools/analysis/benchmark_speed.py --sizes 32x256 \
        --batch-sizes 1 4 --repeats 5
    python tools/analysis/benchmark_speed.py --modes train memory \
        --sizes 64x1024 --train-batch-size 1 --grad-checkpoint
    python tools/analysis/benchmark_speed.py --modes stylegan2 --threads 2 \
        --stylegan2-size 64 --stylegan2-channels 64
"""
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.analysis.speed_cli import main
from glean_plugin.cli import run_tool

if __name__ == '__main__':
    sys.exit(run_tool(main))
