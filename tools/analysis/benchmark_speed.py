r"""Benchmark the CPU forward time of GLEANNet against MMagic's GLEANStyleGANv2.

Both models run in one process on the same weights: MMagic's model is built,
its biases and noise weights get a small random perturbation (so that they are
not trivially zero), and its ``state_dict`` is loaded into ours with
``strict=True``. Before timing, the outputs are compared; a relative
difference ``||a - b|| / ||a||`` above 1e-4 aborts with a non-zero exit status.

Forwards alternate between the two models (A B, then B A on the next repeat,
to cancel drift on a shared, noisy machine). The script reports median and
min times, the ratio of medians ours/MMagic (< 1: ours is faster), the median
of the per-repeat ratios, the FLOPs of one forward (``FlopCounterMode``, 2 FLOPs
per multiply-accumulate) with the achieved GFLOP/s, and, as a practical limit,
the GFLOP/s of a single large 3x3 convolution timed the same way.

Example:
    python tools/analysis/benchmark_speed.py --sizes 32x256 16x256 \
        --batch-sizes 1 4 --repeats 5 --threads 2 --json speed.json
"""
import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

# glean_plugin must be imported before MMagic (mmcv compatibility).
from glean_plugin import GLEANNet  # noqa: I001
from glean_plugin.ops.modulated_conv import MODULATED_CONV_IMPLS
from mmagic.models.editors.glean.glean_styleganv2 import GLEANStyleGANv2

# Largest relative output difference accepted between the two models.
PARITY_TOL = 1e-4
# Standard deviation of the perturbation added to biases and noise weights.
PERTURB_STD = 0.05
SEED = 0
MIN_SIZE = 4
# The reference convolution: (batch, channels, height, width), 3x3 kernel.
REF_CONV_SHAPE = (1, 256, 128, 128)
REF_CONV_KERNEL = 3

Timings = Dict[str, List[float]]


def _is_power_of_two(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


def parse_size(text: str) -> Tuple[int, int]:
    """Parse ``INxOUT`` (e.g. ``32x256``) into (in_size, out_size).

    Args:
        text (str): the command-line value.

    Returns:
        tuple[int, int]: input and output sizes.

    Raises:
        argparse.ArgumentTypeError: malformed value, sizes that are not
            powers of two >= 4, or in_size >= out_size.
    """
    parts = text.lower().split('x')
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f'expected INxOUT such as 32x256, got {text!r}')
    in_size, out_size = int(parts[0]), int(parts[1])
    for size in (in_size, out_size):
        if not _is_power_of_two(size) or size < MIN_SIZE:
            raise argparse.ArgumentTypeError(
                f'sizes must be powers of two >= {MIN_SIZE}, got {text!r}')
    if in_size >= out_size:
        raise argparse.ArgumentTypeError(
            f'the input size must be smaller than the output size, got '
            f'{text!r}')
    return in_size, out_size


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an int >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'expected an integer, got {text!r}') from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f'expected an integer >= {minimum}, got {value}')
        return value

    return parse


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): arguments; ``sys.argv[1:]`` if None.

    Returns:
        argparse.Namespace: the options.
    """
    parser = argparse.ArgumentParser(
        description='CPU forward time of GLEANNet vs MMagic GLEANStyleGANv2 '
        'on the same weights.')
    parser.add_argument(
        '--sizes', nargs='+', type=parse_size, default=[(32, 256)],
        metavar='INxOUT', help='input x output sizes (default: 32x256)')
    parser.add_argument(
        '--batch-sizes', nargs='+', type=_int_at_least(1), default=[1, 4],
        metavar='N', help='batch sizes (default: 1 4)')
    parser.add_argument(
        '--repeats', type=_int_at_least(1), default=5,
        help='timed forwards per model (default: 5)')
    parser.add_argument(
        '--warmup', type=_int_at_least(0), default=1,
        help='untimed forwards per model before timing (default: 1)')
    parser.add_argument(
        '--threads', type=_int_at_least(1), default=None,
        help="torch.set_num_threads (default: torch's default)")
    parser.add_argument(
        '--num-rrdbs', type=_int_at_least(0), default=23,
        help='RRDB blocks in the encoder (default: 23)')
    parser.add_argument(
        '--style-channels', type=_int_at_least(1), default=512,
        help='StyleGAN2 latent size (default: 512)')
    parser.add_argument(
        '--channel-multiplier', type=_int_at_least(1), default=2,
        help='StyleGAN2 channel multiplier (default: 2)')
    parser.add_argument(
        '--modconv-impl', choices=MODULATED_CONV_IMPLS, default='scaled',
        help="our modulated-conv formulation (default: 'scaled')")
    parser.add_argument(
        '--json', type=Path, default=None, metavar='PATH',
        help='also write the results to this JSON file')
    return parser.parse_args(argv)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def build_models(in_size: int, out_size: int,
                 args: argparse.Namespace) -> Tuple[nn.Module, nn.Module]:
    """MMagic's model with perturbed biases/noise weights, and ours on a copy.

    Args:
        in_size (int): input size.
        out_size (int): output size.
        args (argparse.Namespace): model options.

    Returns:
        tuple[nn.Module, nn.Module]: MMagic's and our model, in eval mode.
    """
    torch.manual_seed(SEED)
    common = dict(
        in_size=in_size,
        out_size=out_size,
        num_rrdbs=args.num_rrdbs,
        style_channels=args.style_channels,
        channel_multiplier=args.channel_multiplier)
    mmagic = GLEANStyleGANv2(**common)
    with torch.no_grad():
        for name, param in mmagic.named_parameters():
            if name.endswith('bias') or 'noise_injector' in name:
                param.add_(torch.randn_like(param), alpha=PERTURB_STD)
    ours = GLEANNet(**common, modconv_impl=args.modconv_impl)
    ours.load_state_dict(mmagic.state_dict(), strict=True)
    return mmagic.eval(), ours.eval()


def forward_with_flops(model: nn.Module,
                       x: torch.Tensor) -> Tuple[torch.Tensor, int]:
    """One forward under ``FlopCounterMode``.

    Args:
        model (nn.Module): the model.
        x (Tensor): its input.

    Returns:
        tuple[Tensor, int]: the output and its FLOPs (2 per MAC).
    """
    with FlopCounterMode(display=False) as counter:
        out = model(x)
    return out, counter.get_total_flops()


def timed(fn: Callable[[torch.Tensor], object], x: torch.Tensor) -> float:
    """Seconds taken by ``fn(x)``."""
    start = time.perf_counter()
    fn(x)
    return time.perf_counter() - start


def time_alternating(fns: Dict[str, Callable[[torch.Tensor], object]],
                     x: torch.Tensor, repeats: int, warmup: int) -> Timings:
    """Time the functions in turn, reversing their order every other repeat.

    Args:
        fns (dict[str, callable]): name -> function of ``x``.
        x (Tensor): input.
        repeats (int): timed calls per function.
        warmup (int): untimed calls per function first.

    Returns:
        dict[str, list[float]]: name -> seconds per repeat.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name](x)
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            times[name].append(timed(fns[name], x))
    return times


def summarize(times: List[float], flops: int) -> dict:
    """Median, min and achieved GFLOP/s (at the median) of one model.

    Args:
        times (list[float]): seconds per repeat.
        flops (int): FLOPs of one call.

    Returns:
        dict: the times and their summary.
    """
    median = statistics.median(times)
    return dict(
        times_s=times,
        median_s=median,
        min_s=min(times),
        gflop=flops / 1e9,
        gflops_per_s=flops / 1e9 / median)


def benchmark_reference_conv(repeats: int, warmup: int) -> dict:
    """GFLOP/s of one large 3x3 convolution, the practical CPU limit.

    Args:
        repeats (int): timed calls.
        warmup (int): untimed calls first.

    Returns:
        dict: shape, kernel size and the ``summarize`` fields.
    """
    n, c, h, w = REF_CONV_SHAPE
    conv = nn.Conv2d(c, c, REF_CONV_KERNEL, padding=REF_CONV_KERNEL // 2)
    x = torch.randn(n, c, h, w)
    _, flops = forward_with_flops(conv, x)
    times = time_alternating({'conv': conv}, x, repeats, warmup)['conv']
    return dict(shape=list(REF_CONV_SHAPE), kernel=REF_CONV_KERNEL,
                **summarize(times, flops))


def benchmark_config(mmagic: nn.Module, ours: nn.Module, in_size: int,
                     batch: int, args: argparse.Namespace) -> dict:
    """Check parity, then time both models on one batch size.

    Args:
        mmagic (nn.Module): MMagic's model.
        ours (nn.Module): our model, with the same weights.
        in_size (int): input size.
        batch (int): batch size.
        args (argparse.Namespace): ``repeats`` and ``warmup``.

    Returns:
        dict: parity, per-model summaries and the two ratios.

    Raises:
        SystemExit: if the outputs differ by more than ``PARITY_TOL``.
    """
    x = torch.rand(batch, 3, in_size, in_size)
    ref, mmagic_flops = forward_with_flops(mmagic, x)
    out, our_flops = forward_with_flops(ours, x)
    rel_diff = ((out - ref).norm() / ref.norm()).item()
    print(f'{in_size}x{ours.out_size} batch {batch}: parity '
          f'||ours - mmagic|| / ||mmagic|| = {rel_diff:.3e}', flush=True)
    if not rel_diff <= PARITY_TOL:
        sys.exit(f'error: outputs differ by {rel_diff:.3e} > {PARITY_TOL:g}')
    times = time_alternating({'mmagic': mmagic, 'ours': ours}, x,
                             args.repeats, args.warmup)
    result = dict(
        in_size=in_size,
        out_size=ours.out_size,
        batch=batch,
        parity_rel_diff=rel_diff,
        mmagic=summarize(times['mmagic'], mmagic_flops),
        ours=summarize(times['ours'], our_flops))
    result['ratio_of_medians'] = (
        result['ours']['median_s'] / result['mmagic']['median_s'])
    result['paired_ratio_median'] = statistics.median(
        o / m for o, m in zip(times['ours'], times['mmagic']))
    return result


def print_tables(results: List[dict], ref: dict, machine: dict) -> None:
    """Print the machine line and the timing and throughput tables (Markdown).

    Args:
        results (list[dict]): ``benchmark_config`` results.
        ref (dict): ``benchmark_reference_conv`` result.
        machine (dict): torch version, threads, CPU, date, modconv_impl.
    """
    print(f"\ntorch {machine['torch']}, {machine['threads']} threads, "
          f"{machine['cpu']}, {machine['date']}, "
          f"ours: modconv_impl={machine['modconv_impl']}\n")
    print('| size | batch | MMagic median s (min) | ours median s (min) '
          '| ratio ours/MMagic | paired ratio median |')
    print('|---|---:|---:|---:|---:|---:|')
    for r in results:
        m, o = r['mmagic'], r['ours']
        print(f"| {r['in_size']}x{r['out_size']} | {r['batch']} "
              f"| {m['median_s']:.3f} ({m['min_s']:.3f}) "
              f"| {o['median_s']:.3f} ({o['min_s']:.3f}) "
              f"| {r['ratio_of_medians']:.3f} "
              f"| {r['paired_ratio_median']:.3f} |")
    print(f"\n3x3 conv {ref['shape'][1]}->{ref['shape'][1]} ch at "
          f"{ref['shape'][2]}x{ref['shape'][3]}, batch {ref['shape'][0]}: "
          f"{ref['gflop']:.2f} GFLOP in {ref['median_s']:.3f} s = "
          f"{ref['gflops_per_s']:.1f} GFLOP/s (practical limit)\n")
    print('| size | batch | ours GFLOP | ours GFLOP/s | MMagic GFLOP '
          '| MMagic GFLOP/s | ours GFLOP/s / 3x3 conv GFLOP/s |')
    print('|---|---:|---:|---:|---:|---:|---:|')
    for r in results:
        m, o = r['mmagic'], r['ours']
        print(f"| {r['in_size']}x{r['out_size']} | {r['batch']} "
              f"| {o['gflop']:.2f} | {o['gflops_per_s']:.1f} "
              f"| {m['gflop']:.2f} | {m['gflops_per_s']:.1f} "
              f"| {o['gflops_per_s'] / ref['gflops_per_s']:.2f} |")


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the benchmark; see the module docstring."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    machine = dict(
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        cpu=cpu_model(),
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        modconv_impl=args.modconv_impl)
    results = []
    with torch.inference_mode():
        ref = benchmark_reference_conv(args.repeats, args.warmup)
        for in_size, out_size in args.sizes:
            mmagic, ours = build_models(in_size, out_size, args)
            for batch in args.batch_sizes:
                results.append(
                    benchmark_config(mmagic, ours, in_size, batch, args))
            del mmagic, ours
    print_tables(results, ref, machine)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                dict(machine=machine, reference_conv=ref, results=results,
                     args=dict(vars(args), json=str(args.json))),
                indent=2))
        print(f'\nwrote {args.json}')


if __name__ == '__main__':
    main()
