"""The command line of ``tools/analysis/benchmark_speed.py`` (the speed
harness, ``speed``): its arguments and its run. Here rather than in the tool
so that tests call it in this process and the memory subprocesses run it
(``python -m glean_plugin.analysis.speed_cli --memory-worker ...``).
"""
import argparse
import json
import logging
import os.path as osp
import sys
from pathlib import Path
from typing import Optional, Sequence, Tuple

import torch

from ..apis.cli import int_at_least
from ..fileio import atomic_open
from ..ops.modulated_conv import MODULATED_CONV_IMPLS
from .speed_models import DTYPES, PROGRESS_LOGGER, ParityError, say

__all__ = ['MODES', 'main', 'parse_args', 'parse_size',
           'parse_stylegan2_size']

MODES = ('forward', 'train', 'memory', 'stylegan2')
MIN_SIZE = 4
# StyleGAN2's discriminator halves down to 4x4 from at least 8x8.
MIN_STYLEGAN2_SIZE = 8
# The GLEAN config of the training step: the repository's cat 8x.
DEFAULT_CONFIG = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), 'configs', 'glean_cat_8x.py')


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


def parse_stylegan2_size(text: str) -> int:
    """Parse the StyleGAN2 image size: a power of two >= 8."""
    if not text.isdigit() or not _is_power_of_two(int(text)) or int(
            text) < MIN_STYLEGAN2_SIZE:
        raise argparse.ArgumentTypeError(
            f'expected a power of two >= {MIN_STYLEGAN2_SIZE}, got {text!r}')
    return int(text)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (Sequence[str], optional): arguments; ``sys.argv[1:]`` if None.

    Returns:
        argparse.Namespace: the options.
    """
    parser = argparse.ArgumentParser(
        description='Speed and memory of GLEANNet vs MMagic GLEANStyleGANv2 '
        'on the same weights.')
    parser.add_argument(
        '--modes', nargs='+', choices=MODES, default=['forward'],
        help='what to measure (default: forward)')
    parser.add_argument(
        '--sizes', nargs='+', type=parse_size, default=[(32, 256)],
        metavar='INxOUT', help='input x output sizes (default: 32x256)')
    parser.add_argument(
        '--batch-sizes', nargs='+', type=int_at_least(1), default=[1, 4],
        metavar='N', help='forward batch sizes (default: 1 4)')
    parser.add_argument(
        '--train-batch-size', type=int_at_least(1), default=2,
        help='training batch size (default: 2)')
    parser.add_argument(
        '--repeats', type=int_at_least(1), default=5,
        help='timed forwards per model (default: 5)')
    parser.add_argument(
        '--train-repeats', type=int_at_least(1), default=3,
        help='timed training iterations per model (default: 3)')
    parser.add_argument(
        '--warmup', type=int_at_least(0), default=1,
        help='untimed calls per model before timing (default: 1)')
    parser.add_argument(
        '--threads', type=int_at_least(1), default=None,
        help="torch.set_num_threads (default: torch's default)")
    parser.add_argument(
        '--device', default='cpu', help="'cpu' (default) or 'cuda[:i]'")
    parser.add_argument(
        '--dtype', choices=sorted(DTYPES), default='fp32',
        help='fp32 (default), or bf16 / fp16 autocast')
    parser.add_argument(
        '--channels-last', action='store_true',
        help="channels_last parameters and inputs for MMagic's model too "
        '(ours is channels_last inside by default)')
    parser.add_argument(
        '--ours-contiguous', action='store_true',
        help='build ours with channels_last=False (NCHW inside)')
    parser.add_argument(
        '--compile', action='store_true',
        help='torch.compile both generators (slow to start)')
    parser.add_argument(
        '--grad-checkpoint', action='store_true',
        help='also train / measure ours with gradient checkpointing')
    parser.add_argument(
        '--malloc-cache', action='store_true',
        help='keep freed memory in this process (glibc mallopt; CPU timing '
        'of both implementations, not the memory subprocesses)')
    parser.add_argument(
        '--num-rrdbs', type=int_at_least(0), default=23,
        help='RRDB blocks in the encoder (default: 23)')
    parser.add_argument(
        '--style-channels', type=int_at_least(1), default=512,
        help='StyleGAN2 latent size (default: 512)')
    parser.add_argument(
        '--channel-multiplier', type=int_at_least(1), default=2,
        help='StyleGAN2 channel multiplier (default: 2)')
    parser.add_argument(
        '--stylegan2-size', type=parse_stylegan2_size, default=64,
        metavar='SIZE', help='stylegan2 mode: image size (default: 64)')
    parser.add_argument(
        '--stylegan2-channels', type=int_at_least(1), default=64,
        metavar='C', help='stylegan2 mode: cap on the channel table; 512 '
        "or more is MMagic's table (default: 64)")
    parser.add_argument(
        '--stylegan2-batch-size', type=int_at_least(2), default=4,
        metavar='N', help="stylegan2 mode: batch size (default: 4, MMagic's "
        'per-GPU batch; path length runs on N // 2)')
    parser.add_argument(
        '--modconv-impl', choices=MODULATED_CONV_IMPLS, default='auto',
        help="our modulated-conv formulation (default: 'auto')")
    parser.add_argument(
        '--json', type=Path, default=None, metavar='PATH',
        help='also write the results to this JSON file')
    parser.add_argument(
        '--config', default=DEFAULT_CONFIG, metavar='CONFIG',
        help="GLEAN config: our generator's type (sizes from --sizes), and "
        'the losses, discriminator and optimizers of the training step '
        '(default: configs/glean_cat_8x.py)')
    parser.add_argument('--memory-worker', default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = torch.device(args.device)
    if args.device.type == 'cuda' and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: CUDA is not available')
    return args


def show_progress() -> None:
    """Progress lines (one per timed call) on stderr, once."""
    logger = logging.getLogger(PROGRESS_LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter('%(message)s'))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the harness (``speed.run_speed_benchmark``), print its report
    and write the JSON.

    Raises:
        SystemExit: 'error: ...' (status 1) when the implementations
            disagree or a memory subprocess fails.
    """
    from .speed import run_speed_benchmark
    from .speed_memory import MemoryWorkerError, memory_worker
    from .speed_report import format_report
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.memory_worker is not None:
        say(json.dumps(memory_worker(args.memory_worker, args)))
        return
    show_progress()
    try:
        report = run_speed_benchmark(args)
    except (ParityError, MemoryWorkerError) as err:
        sys.exit(f'error: {err}')
    say(format_report(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report['args'] = {k: str(v) for k, v in vars(args).items()}
        with atomic_open(str(args.json), 'w') as f:
            f.write(json.dumps(report, indent=2))
        say(f'\nwrote {args.json}')


if __name__ == '__main__':
    from ..cli import run_tool
    sys.exit(run_tool(main))
