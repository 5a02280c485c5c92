"""The command line of ``tools/benchmark.py``: its arguments and its run.

Here rather than in the tool so that tests call it in this process.
"""
import argparse
import importlib
import sys

import torch

from ..apis.cli import int_at_least
from ..apis.generator import resolve_device
from ..compat import mmcv_has_compiled_ops
from .grid import grid_rows, image_grid
from .measure import TimingSettings
from .model_runs import (BICUBIC, benchmark_bicubic, benchmark_model,
                         model_specs)
from .paired_data import load_paired_data
from .quality import (ImageQuality, NetworkMetricStatus, build_identity,
                      build_lpips)
from .report import (BenchmarkReport, exit_status, plan_result_files,
                     short_reason, write_report)

__all__ = ['USAGE', 'main', 'parse_args']

# The tool's help: a summary line, then the epilog.
USAGE = """\
Benchmark SR models and a MATLAB-like bicubic baseline on the same pairs.

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


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=USAGE.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=USAGE.split('\n\n', 1)[1])
    parser.add_argument('--configs', nargs='+', required=True,
                        metavar='CONFIG',
                        help=f"model configs; '{BICUBIC}' places the "
                        'bicubic baseline')
    parser.add_argument('--checkpoints', nargs='*', default=[],
                        metavar='CHECKPOINT',
                        help='one per config other than bicubic, in order')
    parser.add_argument('--data', required=True, metavar='DIR',
                        help='folder with GT/ and BIx<scale>_down/')
    parser.add_argument('--scale', type=int_at_least(1), default=None,
                        help='LR folder BIx<scale>_down (default: the only '
                        'one)')
    parser.add_argument('--meta-file', default=None,
                        help='meta-info file naming the images (default: the '
                        "folder's only meta_info*.txt, else all of GT/)")
    parser.add_argument('--max-images', type=int_at_least(1), default=None,
                        metavar='N', help='only the first N images')
    parser.add_argument('--out-dir', default='work_dirs/benchmark',
                        help='where results go (default: %(default)s)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace earlier results in --out-dir')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda, cuda:1, ... (default: cuda if '
                        'available, else cpu)')
    parser.add_argument('--threads', type=int_at_least(1), default=None,
                        help="CPU threads (torch.set_num_threads; default: "
                        "torch's)")
    parser.add_argument('--crop-border', type=int_at_least(0), default=0,
                        help='pixels cut from each edge for PSNR/SSIM '
                        '(default: 0)')
    lpips = parser.add_mutually_exclusive_group()
    lpips.add_argument('--lpips-backbone', default=None, metavar='PATH',
                       help="LPIPS backbone weights (torchvision's "
                       'ImageNet file; default: torchvision\'s cache)')
    lpips.add_argument('--lpips-random', action='store_true',
                       help='random LPIPS backbone, for offline tests: the '
                       'values are flagged and are not LPIPS')
    parser.add_argument('--lpips-net', default='alex',
                        choices=('alex', 'vgg', 'squeeze'),
                        help='LPIPS backbone (default: alex, as the paper)')
    parser.add_argument('--identity', action='store_true',
                        help='also report ArcFace identity similarity '
                        '(faces)')
    arcface = parser.add_mutually_exclusive_group()
    arcface.add_argument('--arcface', default=None, metavar='PATH',
                         help='ArcFace IR-SE50 weights (default: torch.hub\'s '
                         'cache)')
    arcface.add_argument('--identity-random', action='store_true',
                         help='random ArcFace weights, for offline tests')
    parser.add_argument('--warmup', type=int_at_least(0), default=2,
                        help='untimed forwards before timing (default: 2)')
    parser.add_argument('--repeats', type=int_at_least(1), default=5,
                        help='timed forwards; the median is reported '
                        '(default: 5)')
    parser.add_argument('--grid-rows', type=int_at_least(1), default=4,
                        help='images in the grid (default: 4)')
    parser.add_argument('--grid-crop', type=int_at_least(1), default=128,
                        help='crop side in GT pixels (default: 128)')
    args = parser.parse_args(argv)
    if (args.arcface or args.identity_random) and not args.identity:
        parser.error('--arcface and --identity-random need --identity')
    return args


def _warn(message: str) -> None:
    print(f'warning: {message}', file=sys.stderr, flush=True)


def _network_metrics(args, device):
    """LPIPS and identity metrics (None where unavailable) and statuses."""
    lpips, status = build_lpips(device, args.lpips_backbone,
                                   args.lpips_random, args.lpips_net)
    statuses = [status]
    identity = None
    if args.identity:
        identity, id_status = build_identity(device, args.arcface,
                                                args.identity_random)
        statuses.append(id_status)
    for status in statuses:
        if not status.available:
            _warn(f'{status.name} unavailable: {status.reason}')
        elif status.random:
            _warn(f'{status.name} uses random weights (test mode): its '
                  'values are not the metric')
    return lpips, identity, statuses


def main(argv=None) -> int:
    args = parse_args(argv)
    specs = model_specs(args.configs, args.checkpoints)
    paths = plan_result_files(args.out_dir, args.overwrite)
    data = load_paired_data(args.data, args.scale, args.meta_file,
                               args.max_images)
    device = resolve_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    timing = TimingSettings(args.warmup, args.repeats)
    lpips, identity, statuses = _network_metrics(args, device)
    quality = ImageQuality(args.crop_border, lpips, identity)
    for name, reason in quality.drop_failing_networks(data.gts).items():
        _warn(f'{name} unavailable: {reason}')
        statuses = [NetworkMetricStatus(name, False, reason=reason)
                    if s.name == name else s for s in statuses]
    if not mmcv_has_compiled_ops():
        # MMagic's GLEAN configs then build this plugin's GLEANNet
        importlib.import_module('glean_plugin.dropin')
    keep = grid_rows(len(data), args.grid_rows)
    print(f'{len(data)} image(s), x{data.scale}, on {device}', flush=True)
    results = []
    for i, spec in enumerate(specs, 1):
        print(f'[{i}/{len(specs)}] {spec.name}', flush=True)
        if spec.is_bicubic:
            result = benchmark_bicubic(data, quality, timing, keep)
        else:
            result = benchmark_model(spec, data, quality, timing, device,
                                        keep)
        if not result.ok:
            _warn(f'skipped {spec.name}: {short_reason(result.reason)}')
        results.append(result)
    grid, columns = image_grid(data, results, keep, args.grid_crop)
    report = BenchmarkReport(data, results, device, args.crop_border,
                                timing, statuses, columns)
    written = write_report(report, paths, grid)
    print('\n' + report.to_markdown())
    print('wrote ' + ', '.join(written))
    status = exit_status(results)
    if status:
        print('error: no model could be benchmarked (see the skipped rows)',
              file=sys.stderr)
    return status
