r"""Speed and memory of GLEANNet vs MMagic's GLEANStyleGANv2, same weights.

MMagic's model is built, its biases and noise weights get a small random
perturbation (so that they are not trivially zero), and its ``state_dict`` is
loaded into ours with ``strict=True``. Each mode checks parity first and
aborts (non-zero exit status) when the relative difference
``||ours - mmagic|| / ||mmagic||`` exceeds the tolerance of the dtype:

- ``forward``: inference (``torch.inference_mode``) latency and throughput
  per batch size, the FLOPs of one call (``FlopCounterMode``, 2 per
  multiply-accumulate) and the achieved GFLOP/s next to those of a single
  large 3x3 convolution on the same device (the practical limit).
- ``train``: one full training iteration of GLEAN's GAN recipe (configs
  ``_base_/models/glean.py``): generator forward; L_g = MSE + 1e-2 perceptual
  (``VGGPerceptualLoss``, VGG16 ``features[21]``, random weights:
  ``pretrained=None``) + 1e-2 vanilla GAN; backward; Adam step; then the
  discriminator step (real and fake BCE, backward, Adam step). MMagic's model
  trains with MMagic's ``StyleGAN2Discriminator``, ours with
  ``GLEANDiscriminator``, on the same weights (if MMagic's cannot be built,
  ours serves both and the output says so). Parity: the first iteration's
  losses.
- ``memory``: peak memory of one forward (batch 1) and of one training
  iteration, each implementation and size in a fresh subprocess so that
  peaks do not mix. After one warm-up call (which also allocates Adam's
  state) the peak is reset; CPU: peak resident set size (``VmHWM``, reset
  through ``/proc/self/clear_refs``) and its rise over the resident memory
  before the call; CUDA: ``torch.cuda.max_memory_allocated`` and its rise
  over ``memory_allocated``.
- ``stylegan2``: one iteration of MMagic's ``StyleGAN2.train_step``
  (``base_styleganv2``: D step with the non-saturating logistic loss and lazy
  R1, G step with lazy path-length regularisation, EMA update, Adam) on
  MMagic's StyleGAN2Generator / StyleGAN2Discriminator and on ours
  (``StyleGAN2Generator``, ``GLEANDiscriminator``), same weights, CPU.
  Parity: the losses of iterations 0 (R1 and path length) and 1 (plain, after
  step 0's updates), with Python's and torch's generators seeded alike.
  Timed: a plain, an R1, a path-length and an R1 + path-length iteration,
  and their mean over MMagic's intervals (R1 every 16, path length every 4).
  ``--stylegan2-channels`` caps the channel table of both (MMagic's modules
  are built with the capped counts); 512 is MMagic's table.

Timed calls alternate between the implementations (A B, then B A on the next
repeat, to cancel drift on a shared, noisy machine) after ``--warmup``
untimed calls each. Reported: medians (and minima), the ratio of medians
ours/MMagic (< 1: ours is faster or smaller) and the median of the
per-repeat ratios. On CPU, minor page faults per call are reported too: glibc
returns freed blocks above 32 MiB to the OS, so every large tensor costs
fresh zeroed pages; ``--malloc-cache`` keeps them in this process (for both
implementations, like ``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:...``).

GLEANNet runs channels_last inside by default (``--ours-contiguous``: NCHW).
Options apply to both implementations where they exist:
``--channels-last`` (every 4D parameter and the input of MMagic's model
too), ``--dtype`` bf16 /
fp16 (``torch.autocast`` around the generator; losses and discriminator stay
float32; MMagic's GLEAN does not run under autocast, it then runs in float32
and the output says so), ``--compile`` (``torch.compile``).
``--grad-checkpoint`` adds ours with gradient checkpointing (RRDB blocks,
latent-bank resolutions, decoder stages) to ``train`` and ``memory``.

Examples:
    python tools/analysis/benchmark_speed.py --sizes 32x256 \
        --batch-sizes 1 4 --repeats 5
    python tools/analysis/benchmark_speed.py --modes train memory \
        --sizes 64x1024 --train-batch-size 1 --grad-checkpoint
    python tools/analysis/benchmark_speed.py --modes stylegan2 --threads 2 \
        --stylegan2-size 64 --stylegan2-channels 64
"""
import argparse
import contextlib
import copy
import ctypes
import datetime
import json
import math
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import MessageHub
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch.utils.flop_counter import FlopCounterMode

# glean_plugin must be imported before MMagic (mmcv compatibility).
from glean_plugin import GLEANNet, StyleGAN2Generator  # noqa: I001
from glean_plugin.models.discriminator import GLEANDiscriminator
from glean_plugin.apis.benchmark import device_name
from glean_plugin.apis.cli import int_at_least
from glean_plugin.cli import run_tool
from glean_plugin.models.layers import (set_grad_checkpointing,
                                        to_channels_last_)
from glean_plugin.models.losses.perceptual import VGGPerceptualLoss
from glean_plugin.ops.modulated_conv import MODULATED_CONV_IMPLS
from mmagic.models import DataPreprocessor
from mmagic.models.editors.glean.glean_styleganv2 import GLEANStyleGANv2
from mmagic.models.editors.stylegan2 import (StyleGAN2,
                                             StyleGAN2Discriminator)
from mmagic.models.editors.stylegan2 import \
    StyleGAN2Generator as MMagicStyleGAN2Generator
from mmagic.models.editors.stylegan2 import \
    stylegan2_discriminator as mmagic_stylegan2_discriminator
from mmagic.structures import DataSample

MODES = ('forward', 'train', 'memory', 'stylegan2')
DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16,
          'fp16': torch.float16}
# Largest accepted relative difference between the implementations. float32:
# rounding only. Under autocast every op rounds to 8 (bf16) or 11 (fp16)
# significant bits, ~2e-3 and ~5e-4 per op; over GLEAN's ~100 layers such
# errors add up like a random walk (x10), and the two implementations round
# in different places (a small GLEAN measures 7e-3 and 1e-3).
PARITY_TOL = {'fp32': 1e-4, 'bf16': 5e-2, 'fp16': 1e-2}
# Standard deviation of the perturbation added to biases and noise weights.
PERTURB_STD = 0.05
SEED = 0
MIN_SIZE = 4
# StyleGAN2's discriminator halves down to 4x4 from at least 8x8.
MIN_STYLEGAN2_SIZE = 8
# On CPU, outputs this large run at batch 1 only (a 64->1024 forward takes
# minutes at batch 4 on a few cores).
LARGE_OUT_SIZE = 1024
# The reference convolution: (batch, channels, height, width), 3x3 kernel.
REF_CONV_SHAPE = (1, 256, 128, 128)
REF_CONV_KERNEL = 3
# GLEAN's loss weights (configs/_base_/models/glean.py) and its optimizers.
PERCEPTUAL_LAYERS = {'21': 1.0}
PERCEPTUAL_WEIGHT = 1e-2
GAN_WEIGHT = 1e-2
ADAM = dict(lr=1e-4, betas=(0.9, 0.99))
# glibc mallopt parameters (malloc.h) for --malloc-cache; the largest trim
# threshold mallopt takes (a C int).
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
C_INT_MAX = 2**31 - 1
MIB = 2**20

Timings = Dict[str, List[float]]


# --------------------------------------------------------------------------- #
# command line
# --------------------------------------------------------------------------- #
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
    parser.add_argument('--memory-worker', default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = torch.device(args.device)
    if args.device.type == 'cuda' and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: CUDA is not available')
    return args


# --------------------------------------------------------------------------- #
# machine, allocator, timing
# --------------------------------------------------------------------------- #
def keep_freed_memory() -> bool:
    """glibc: never return freed memory to the OS (``--malloc-cache``).

    Same effect as ``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.
    trim_threshold=...`` but set from inside the process: large blocks come
    from the heap and stay there, so reusing them needs no fresh pages.

    Returns:
        bool: whether glibc accepted both settings.
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, C_INT_MAX))


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_alternating(fns: Dict[str, Callable[[], object]], repeats: int,
                     warmup: int, device: torch.device
                     ) -> Tuple[Timings, Dict[str, float]]:
    """Time the functions in turn, reversing their order every other repeat.

    Args:
        fns (dict[str, callable]): name -> function without arguments.
        repeats (int): timed calls per function.
        warmup (int): untimed calls per function first.
        device (torch.device): synchronised around every call.

    Returns:
        tuple: name -> seconds per repeat, and name -> median minor page
        faults per call.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times = {name: [] for name in names}
    faults = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            _sync(device)
            faults0, start = _minor_faults(), time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
            faults[name].append(_minor_faults() - faults0)
    return times, {k: statistics.median(v) for k, v in faults.items()}


def summarize(times: List[float], flops: Optional[int] = None,
              items: int = 1) -> dict:
    """Median, min, throughput and (with ``flops``) achieved GFLOP/s.

    Args:
        times (list[float]): seconds per repeat.
        flops (int, optional): FLOPs of one call.
        items (int): images per call, for the throughput.

    Returns:
        dict: the times and their summary.
    """
    median = statistics.median(times)
    out = dict(times_s=times, median_s=median, min_s=min(times),
               items_per_s=items / median)
    if flops is not None:
        out.update(gflop=flops / 1e9, gflops_per_s=flops / 1e9 / median)
    return out


def compare(times: Timings, a: str = 'ours', b: str = 'mmagic') -> dict:
    """Ratio of medians a/b and median of the per-repeat ratios."""
    return dict(
        ratio_of_medians=statistics.median(times[a]) /
        statistics.median(times[b]),
        paired_ratio_median=statistics.median(
            x / y for x, y in zip(times[a], times[b])))


def rel_diff(a: torch.Tensor, ref: torch.Tensor) -> float:
    """||a - ref|| / ||ref|| in float64."""
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    return ((a - ref).norm() / ref.norm()).item()


def check_parity(what: str, diff: float, tol: float) -> None:
    """Print the difference; exit with an error above ``tol``."""
    print(f"{what}: parity relative difference {diff:.3e}",
          flush=True)
    if not diff <= tol:
        sys.exit(f'error: {what}: outputs differ by {diff:.3e} > {tol:g}')


# --------------------------------------------------------------------------- #
# models
# --------------------------------------------------------------------------- #
def _common(in_size: int, out_size: int, args: argparse.Namespace) -> dict:
    return dict(in_size=in_size, out_size=out_size,
                num_rrdbs=args.num_rrdbs,
                style_channels=args.style_channels,
                channel_multiplier=args.channel_multiplier)


def _our_options(args: argparse.Namespace) -> dict:
    return dict(modconv_impl=args.modconv_impl,
                channels_last=not args.ours_contiguous)


def build_models(in_size: int, out_size: int,
                 args: argparse.Namespace) -> Tuple[nn.Module, nn.Module]:
    """MMagic's model with perturbed biases/noise weights, and ours on a copy.

    Args:
        in_size (int): input size.
        out_size (int): output size.
        args (argparse.Namespace): model options.

    Returns:
        tuple[nn.Module, nn.Module]: MMagic's and our model, in eval mode on
        CPU.
    """
    torch.manual_seed(SEED)
    common = _common(in_size, out_size, args)
    mmagic = GLEANStyleGANv2(**common)
    with torch.no_grad():
        for name, param in mmagic.named_parameters():
            if name.endswith('bias') or 'noise_injector' in name:
                param.add_(torch.randn_like(param), alpha=PERTURB_STD)
    ours = GLEANNet(**common, **_our_options(args))
    ours.load_state_dict(mmagic.state_dict(), strict=True)
    return mmagic.eval(), ours.eval()


def build_discriminators(out_size: int,
                         args: argparse.Namespace) -> Tuple[nn.Module,
                                                            nn.Module, str]:
    """MMagic's StyleGAN2 discriminator (or ours) and ours, same weights.

    Returns:
        tuple: (discriminator for MMagic's model, ours, a note on which
        discriminator MMagic's model uses).
    """
    torch.manual_seed(SEED)
    kw = dict(in_size=out_size, channel_multiplier=args.channel_multiplier)
    try:
        from mmagic.models.editors.stylegan2 import StyleGAN2Discriminator
        theirs = StyleGAN2Discriminator(**kw)
        theirs(torch.zeros(1, 3, out_size, out_size))
        note = "MMagic's StyleGAN2Discriminator"
    except Exception as err:  # no compiled ops, or another build failure
        theirs = None
        note = (f"ours (MMagic's StyleGAN2Discriminator failed: "
                f'{type(err).__name__}: {err})')
    ours = GLEANDiscriminator(**kw)
    if theirs is None:
        theirs = copy.deepcopy(ours)
    else:
        ours.load_state_dict(theirs.state_dict(), strict=True)
    return theirs, ours, note


def enable_grad_checkpointing(model: nn.Module) -> str:
    """``with_cp`` on GLEANNet: RRDBs, latent-bank resolutions, decoder.

    Returns:
        str: what was enabled.
    """
    count = set_grad_checkpointing(model)
    return (f'with_cp on {count} modules (GLEANNet decoder stages, latent '
            'bank resolutions, RRDB blocks)')


class Runner:
    """A generator prepared for the options, and the autocast to run it in.

    Args:
        model (nn.Module): generator (eval mode, CPU).
        args (argparse.Namespace): ``device``, ``channels_last``,
            ``compile``, ``dtype``.
        autocast (bool): run under autocast for ``args.dtype``.
    """

    def __init__(self, model: nn.Module, args: argparse.Namespace,
                 autocast: bool = True) -> None:
        self.device = args.device
        self.memory_format = (torch.channels_last if args.channels_last else
                              torch.contiguous_format)
        model = model.to(self.device)
        if args.channels_last:
            to_channels_last_(model)
        self.eager = model
        self.model = torch.compile(model) if args.compile else model
        self.dtype = DTYPES[args.dtype] if autocast else torch.float32

    def autocast(self):
        """Autocast context for the generator (nothing for float32)."""
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The input on the device, in the memory format."""
        return x.to(self.device).contiguous(memory_format=self.memory_format)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            return self.model(x)


def runs_under_autocast(model: nn.Module, in_size: int,
                        args: argparse.Namespace) -> Optional[str]:
    """None if ``model`` runs under autocast for ``args.dtype``, else why."""
    if args.dtype == 'fp32':
        return None
    try:
        with torch.inference_mode(), torch.autocast(
                args.device.type, dtype=DTYPES[args.dtype]):
            model.to(args.device)(
                torch.rand(1, 3, in_size, in_size, device=args.device))
    except RuntimeError as err:
        return f'{type(err).__name__}: {str(err).splitlines()[0]}'
    return None


# --------------------------------------------------------------------------- #
# forward
# --------------------------------------------------------------------------- #
def forward_with_flops(model: Callable, x: torch.Tensor
                       ) -> Tuple[torch.Tensor, int]:
    """One forward under ``FlopCounterMode``.

    Args:
        model (callable): the model.
        x (Tensor): its input.

    Returns:
        tuple[Tensor, int]: the output and its FLOPs (2 per MAC).
    """
    with FlopCounterMode(display=False) as counter:
        out = model(x)
    return out, counter.get_total_flops()


def _autocast(args: argparse.Namespace):
    """``torch.autocast`` for ``--dtype`` (disabled for fp32)."""
    return torch.autocast(args.device.type, dtype=DTYPES[args.dtype],
                          enabled=args.dtype != 'fp32')


def benchmark_reference_conv(args: argparse.Namespace) -> dict:
    """GFLOP/s of one large 3x3 convolution, the practical limit.

    Timed in both memory formats (NCHW and channels_last), under the
    autocast of ``--dtype``; the faster one is the limit.

    Args:
        args (argparse.Namespace): repeats, warmup, device.

    Returns:
        dict: shape, kernel size, the ``summarize`` fields of the faster
        format, its name and the GFLOP/s of each format.
    """
    n, c, h, w = REF_CONV_SHAPE
    conv = nn.Conv2d(c, c, REF_CONV_KERNEL,
                     padding=REF_CONV_KERNEL // 2).to(args.device)
    x = torch.randn(n, c, h, w, device=args.device)
    with torch.inference_mode():
        _, flops = forward_with_flops(conv, x)
        fns = {}
        for name, fmt in (('nchw', torch.contiguous_format),
                          ('channels_last', torch.channels_last)):
            conv_f = copy.deepcopy(conv).to(memory_format=fmt)
            x_f = x.contiguous(memory_format=fmt)
            fns[name] = (lambda m=conv_f, t=x_f: _autocast(args)(m)(t))
        times, _ = time_alternating(fns, args.repeats, args.warmup,
                                    args.device)
    per_format = {name: summarize(t, flops) for name, t in times.items()}
    best = max(per_format, key=lambda k: per_format[k]['gflops_per_s'])
    return dict(shape=list(REF_CONV_SHAPE), kernel=REF_CONV_KERNEL,
                format=best, gflops_per_s_by_format={
                    k: v['gflops_per_s'] for k, v in per_format.items()},
                **per_format[best])


def forward_batches(out_size: int, args: argparse.Namespace) -> List[int]:
    """The forward batch sizes for this size (batch 1 only for large CPU)."""
    if args.device.type == 'cpu' and out_size >= LARGE_OUT_SIZE:
        return [1]
    return list(args.batch_sizes)


def benchmark_forward(mmagic: Runner, ours: Runner, in_size: int,
                      batch: int, args: argparse.Namespace) -> dict:
    """Check parity, then time both models' inference on one batch size.

    Returns:
        dict: parity, per-model summaries, ratios and page faults.
    """
    x = torch.rand(batch, 3, in_size, in_size)
    xm, xo = mmagic.prepare(x), ours.prepare(x)
    with torch.inference_mode():
        with mmagic.autocast():
            ref, mmagic_flops = forward_with_flops(mmagic.eager, xm)
        with ours.autocast():
            out, our_flops = forward_with_flops(ours.eager, xo)
        diff = rel_diff(out, ref)
        out_size = out.shape[-1]
        check_parity(f'forward {in_size}x{out_size} batch {batch}', diff,
                     PARITY_TOL[args.dtype])
        times, faults = time_alternating(
            {'mmagic': lambda: mmagic(xm), 'ours': lambda: ours(xo)},
            args.repeats, args.warmup, args.device)
    return dict(in_size=in_size, out_size=out_size, batch=batch,
                parity_rel_diff=diff,
                mmagic=summarize(times['mmagic'], mmagic_flops, batch),
                ours=summarize(times['ours'], our_flops, batch),
                minor_faults=faults, **compare(times))


# --------------------------------------------------------------------------- #
# train
# --------------------------------------------------------------------------- #
def build_perceptual_loss() -> nn.Module:
    """GLEAN's perceptual loss with random VGG16 weights (no download)."""
    return VGGPerceptualLoss(PERCEPTUAL_LAYERS, vgg_type='vgg16',
                             perceptual_weight=PERCEPTUAL_WEIGHT,
                             norm_img=False, pretrained=None,
                             criterion='mse')


class TrainStep:
    """One GLEAN training iteration: generator step, discriminator step.

    Args:
        gen (Runner): the generator.
        disc (nn.Module): the discriminator (float32, on the device).
        perceptual (nn.Module): the perceptual loss.
    """

    def __init__(self, gen: Runner, disc: nn.Module,
                 perceptual: nn.Module) -> None:
        self.gen, self.disc, self.perceptual = gen, disc, perceptual
        self.opt_g = torch.optim.Adam(
            [p for p in gen.eager.parameters() if p.requires_grad], **ADAM)
        self.opt_d = torch.optim.Adam(disc.parameters(), **ADAM)

    def __call__(self, lq: torch.Tensor,
                 gt: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Args: lq, gt (Tensor): inputs and targets, prepared.

        Returns:
            tuple[Tensor, Tensor]: generator and discriminator losses.
        """
        self.gen.eager.train()
        self.disc.train()
        self.disc.requires_grad_(False)
        out = self.gen(lq).float()
        real = torch.ones(out.shape[0], 1, device=out.device)
        loss_g = (F.mse_loss(out, gt) + self.perceptual(out, gt)[0] +
                  GAN_WEIGHT * F.binary_cross_entropy_with_logits(
                      self.disc(out), real))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.disc.requires_grad_(True)
        loss_d = (F.binary_cross_entropy_with_logits(self.disc(gt), real) +
                  F.binary_cross_entropy_with_logits(
                      self.disc(out.detach()), torch.zeros_like(real)))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        return loss_g.detach(), loss_d.detach()


def train_inputs(in_size: int, out_size: int, batch: int,
                 gen: Runner) -> Tuple[torch.Tensor, torch.Tensor]:
    """A fixed (lq, gt) pair, prepared for ``gen``."""
    gen_rng = torch.Generator().manual_seed(SEED)
    lq = torch.rand(batch, 3, in_size, in_size, generator=gen_rng)
    gt = torch.rand(batch, 3, out_size, out_size, generator=gen_rng)
    return gen.prepare(lq), gen.prepare(gt)


def benchmark_train(in_size: int, out_size: int, args: argparse.Namespace,
                    mmagic_autocast: bool) -> dict:
    """Check first-iteration parity, then time training iterations.

    Returns:
        dict: parity, per-implementation summaries and ratios.
    """
    mm_gen, our_gen = build_models(in_size, out_size, args)
    mm_disc, our_disc, disc_note = build_discriminators(out_size, args)
    perceptual = build_perceptual_loss().to(args.device)
    steps = {
        'mmagic': TrainStep(Runner(mm_gen, args, mmagic_autocast),
                            mm_disc.to(args.device), perceptual),
        'ours': TrainStep(Runner(our_gen, args), our_disc.to(args.device),
                          perceptual),
    }
    cp_note = None
    if args.grad_checkpoint:
        cp_gen = copy.deepcopy(our_gen)
        cp_note = enable_grad_checkpointing(cp_gen)
        steps['ours+cp'] = TrainStep(Runner(cp_gen, args),
                                     copy.deepcopy(our_disc), perceptual)
    batch = args.train_batch_size
    lq, gt = train_inputs(in_size, out_size, batch, steps['ours'].gen)
    losses = {name: step(lq, gt) for name, step in steps.items()}
    what = f'train {in_size}x{out_size} batch {batch} (losses)'
    diff = max(rel_diff(o, m) for o, m in zip(losses['ours'],
                                               losses['mmagic']))
    check_parity(what, diff, PARITY_TOL[args.dtype])
    if 'ours+cp' in losses:
        check_parity(what + ' ours+cp vs ours', max(
            rel_diff(c, o)
            for c, o in zip(losses['ours+cp'], losses['ours'])),
                     PARITY_TOL[args.dtype])
    times, faults = time_alternating(
        {name: (lambda s=step: s(lq, gt)) for name, step in steps.items()},
        args.train_repeats, max(args.warmup - 1, 0), args.device)
    result = dict(in_size=in_size, out_size=out_size, batch=batch,
                  parity_rel_diff=diff, discriminator=disc_note,
                  minor_faults=faults, **compare(times))
    for name in steps:
        result[name] = summarize(times[name], items=batch)
    if cp_note is not None:
        result['grad_checkpoint'] = cp_note
        result['cp'] = compare(times, 'ours+cp', 'mmagic')
    return result


# --------------------------------------------------------------------------- #
# stylegan2: MMagic's StyleGAN2 training iteration, its networks vs ours
# --------------------------------------------------------------------------- #
# MMagic's base_styleganv2 model (configs/_base_/models/base_styleganv2.py):
# lazy R1 every 16 D steps, path length every 4 G steps, each scaled by its
# interval; its Adam: lr 0.002 and betas (0, 0.99) corrected by
# interval / (interval + 1).
R1_INTERVAL, G_REG_INTERVAL = 16, 4
STYLEGAN2_LOSS = dict(r1_loss_weight=10. / 2. * R1_INTERVAL,
                      r1_interval=R1_INTERVAL, norm_mode='HWC',
                      g_reg_interval=G_REG_INTERVAL,
                      g_reg_weight=2. * G_REG_INTERVAL, pl_batch_shrink=2)
STYLEGAN2_LR = 0.002
STYLEGAN2_BETA2 = 0.99
# The largest entry of MMagic's StyleGAN2 channel table (4x4 .. 32x32).
TABLE_MAX_CHANNELS = 512
# MMagic's discriminator flattens its 4x4 features into the first linear.
FINAL_FEATURE_PIXELS = 4 * 4
# Iteration kinds: name -> (R1 on D, path length on G).
STYLEGAN2_KINDS = {'plain': (False, False), 'r1': (True, False),
                   'path_length': (False, True),
                   'r1+path_length': (True, True)}
# Largest relative difference of the StyleGAN2 losses. The path-length
# penalty is a squared first derivative through leaky ReLUs: where a
# pre-activation lies within float32 rounding of the kink, one
# implementation takes slope 1, the other 0.2 (see
# tests/test_models/test_stylegan2_generator.py), and each such pixel moves
# the penalty. Measured: 8.3e-5 at 64x64, 64 channels (the other losses
# 3e-5 or less); a missing or wrong gradient path is off by O(1).
STYLEGAN2_PARITY_TOL = 1e-3
# The iterations the parity check runs: 0 regularises both networks, 1 is
# plain and starts from the weights that step 0 updated.
PARITY_ITERS = (0, 1)


def _capped(channels: int, cap: int) -> int:
    """A channel count of MMagic's StyleGAN2 table capped at ``cap``.

    Table entries are even; odd counts are an entry + 1 (the minibatch
    standard deviation channel) or the 3 image channels.
    """
    if channels % 2:
        return min(channels - 1, cap) + 1
    return min(channels, cap)


@contextlib.contextmanager
def _mmagic_discriminator_table(cap: int):
    """MMagic's StyleGAN2Discriminator builds with its table capped at
    ``cap`` (its table is a local; the layers it builds get capped counts).
    """
    mod = mmagic_stylegan2_discriminator
    names = ('ConvDownLayer', 'ResBlock', 'EqualLinearActModule')
    originals = {name: getattr(mod, name) for name in names}

    def capped(name):
        def build(in_ch, out_ch, *args, **kwargs):
            if name == 'EqualLinearActModule' and in_ch == (
                    TABLE_MAX_CHANNELS * FINAL_FEATURE_PIXELS):
                in_ch = _capped(TABLE_MAX_CHANNELS, cap) * (
                    FINAL_FEATURE_PIXELS)
            else:
                in_ch = _capped(in_ch, cap)
            return originals[name](in_ch, _capped(out_ch, cap), *args,
                                   **kwargs)
        return build

    for name in names:
        setattr(mod, name, capped(name))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(mod, name, original)


def build_stylegan2_networks(args: argparse.Namespace) -> Tuple[
        Tuple[nn.Module, nn.Module], Tuple[nn.Module, nn.Module]]:
    """MMagic's StyleGAN2 generator and discriminator, and ours, same weights.

    MMagic's biases and noise weights get the perturbation of
    ``build_models``; ours load MMagic's state dicts strictly. With
    ``--stylegan2-channels`` below 512, MMagic's channel table is capped
    (its own modules, built with capped channel counts).

    Returns:
        tuple: (MMagic's generator, discriminator), (ours).
    """
    size, cap = args.stylegan2_size, args.stylegan2_channels

    class CappedGenerator(MMagicStyleGAN2Generator):
        """MMagic's generator; its ``channels`` table is capped when set."""

        @property
        def channels(self):
            return self._capped_channels

        @channels.setter
        def channels(self, table):
            self._capped_channels = {k: min(v, cap) for k, v in table.items()}

    capping = cap < TABLE_MAX_CHANNELS
    kw = dict(channel_multiplier=args.channel_multiplier)
    torch.manual_seed(SEED)
    theirs_g = (CappedGenerator if capping else MMagicStyleGAN2Generator)(
        size, args.style_channels, **kw)
    with (_mmagic_discriminator_table(cap) if capping else
          contextlib.nullcontext()):
        theirs_d = StyleGAN2Discriminator(size, **kw)
    with torch.no_grad():
        for module in (theirs_g, theirs_d):
            for name, param in module.named_parameters():
                if name.endswith('bias') or 'noise' in name:
                    param.add_(torch.randn_like(param), alpha=PERTURB_STD)
    max_channels = cap if capping else None
    ours_g = StyleGAN2Generator(size, args.style_channels,
                                max_channels=max_channels, **kw)
    ours_d = GLEANDiscriminator(size, max_channels=max_channels, **kw)
    ours_g.load_state_dict(theirs_g.state_dict(), strict=True)
    ours_d.load_state_dict(theirs_d.state_dict(), strict=True)
    return (theirs_g, theirs_d), (ours_g, ours_d)


def _lazy_adam(params, interval: int) -> OptimWrapper:
    """StyleGAN2's Adam corrected for a lazy regulariser every ``interval``.
    """
    ratio = interval / (interval + 1)
    return OptimWrapper(torch.optim.Adam(
        params, lr=STYLEGAN2_LR * ratio, betas=(0., STYLEGAN2_BETA2**ratio)))


class StyleGAN2Step:
    """One iteration of MMagic's ``StyleGAN2.train_step`` on given networks.

    D step (non-saturating logistic loss, R1 on real images when on), G step
    (non-saturating loss, path length when on), EMA update, Adam.

    Args:
        gen (nn.Module): the generator.
        disc (nn.Module): the discriminator.
        real (Tensor): (N, 3, H, W) real images in [0, 255].
    """

    def __init__(self, gen: nn.Module, disc: nn.Module,
                 real: torch.Tensor) -> None:
        self.model = StyleGAN2(
            gen, disc, data_preprocessor=DataPreprocessor(
                mean=[127.5] * 3, std=[127.5] * 3),
            ema_config=dict(type='ExponentialMovingAverage'),
            loss_config=STYLEGAN2_LOSS).train()
        self.optim = OptimWrapperDict(
            generator=_lazy_adam(gen.parameters(), G_REG_INTERVAL),
            discriminator=_lazy_adam(disc.parameters(), R1_INTERVAL))
        self.data = dict(inputs=dict(), data_samples=[
            DataSample(gt_img=img) for img in real])

    def __call__(self, iteration: int, seed: int = SEED) -> Dict[str, float]:
        """Iteration ``iteration`` at MMagic's intervals, with Python's and
        torch's generators seeded.

        Returns:
            dict[str, float]: the iteration's losses.
        """
        self.model.r1_interval = R1_INTERVAL
        self.model.g_reg_interval = G_REG_INTERVAL
        return self._step(iteration, seed)

    def as_kind(self, kind: str) -> Dict[str, float]:
        """One iteration of ``kind`` (a key of ``STYLEGAN2_KINDS``)."""
        r1, path = STYLEGAN2_KINDS[kind]
        # iteration 1: interval 1 regularises, interval 2 does not
        self.model.r1_interval = 1 if r1 else 2
        self.model.g_reg_interval = 1 if path else 2
        return self._step(1, SEED)

    def _step(self, iteration: int, seed: int) -> Dict[str, float]:
        model = self.model
        MessageHub.get_current_instance().update_info('iter', iteration)
        random.seed(seed)
        torch.manual_seed(seed)
        log_vars = model.train_step(self.data, self.optim)
        return {k: float(v.detach()) for k, v in log_vars.items()}


def amortised_counts(r1_interval: int = R1_INTERVAL,
                     g_reg_interval: int = G_REG_INTERVAL) -> Dict[str, int]:
    """How many iterations of each kind one period of the intervals has.

    Returns:
        dict[str, int]: kind -> iterations in lcm(intervals) iterations.
    """
    counts = dict.fromkeys(STYLEGAN2_KINDS, 0)
    for i in range(math.lcm(r1_interval, g_reg_interval)):
        key = (i % r1_interval == 0, i % g_reg_interval == 0)
        counts[next(k for k, v in STYLEGAN2_KINDS.items() if v == key)] += 1
    return counts


def benchmark_stylegan2(args: argparse.Namespace) -> dict:
    """Check parity of two iterations, then time each iteration kind.

    Returns:
        dict: sizes, parity, per-kind summaries and ratios, and the
        iteration amortised over MMagic's intervals.
    """
    if args.device.type != 'cpu':
        sys.exit('error: --modes stylegan2 runs on the CPU only')
    size, batch = args.stylegan2_size, args.stylegan2_batch_size
    theirs, ours = build_stylegan2_networks(args)
    real = torch.rand(batch, 3, size, size,
                      generator=torch.Generator().manual_seed(SEED)) * 255
    steps = {'mmagic': StyleGAN2Step(*theirs, real),
             'ours': StyleGAN2Step(*ours, real)}
    diff = 0.
    for iteration in PARITY_ITERS:
        losses = {name: step(iteration, seed=iteration)
                  for name, step in steps.items()}
        if losses['ours'].keys() != losses['mmagic'].keys():
            sys.exit(f"error: stylegan2 iteration {iteration}: losses "
                     f"{sorted(losses['ours'])} != MMagic's "
                     f"{sorted(losses['mmagic'])}")
        diff = max(diff, *(rel_diff(torch.tensor(v),
                                    torch.tensor(losses['mmagic'][k]))
                           for k, v in losses['ours'].items()))
    check_parity(f'stylegan2 {size}x{size} iterations {PARITY_ITERS} '
                 '(losses)', diff, STYLEGAN2_PARITY_TOL)
    result = dict(out_size=size, max_channels=args.stylegan2_channels,
                  batch=batch, parity_rel_diff=diff, kinds={})
    for kind in STYLEGAN2_KINDS:
        times, _ = time_alternating(
            {name: (lambda s=step: s.as_kind(kind)) for name, step in
             steps.items()}, args.train_repeats, args.warmup, args.device)
        result['kinds'][kind] = dict(
            mmagic=summarize(times['mmagic'], items=batch),
            ours=summarize(times['ours'], items=batch), **compare(times))
        print(f'stylegan2 {kind}: timed', flush=True)
    counts = amortised_counts()
    amortised = {name: sum(n * result['kinds'][k][name]['median_s']
                           for k, n in counts.items()) / sum(counts.values())
                 for name in steps}
    result['amortised'] = dict(
        intervals=dict(r1=R1_INTERVAL, path_length=G_REG_INTERVAL),
        counts=counts, mmagic_s=amortised['mmagic'], ours_s=amortised['ours'],
        ratio=amortised['ours'] / amortised['mmagic'])
    return result


# --------------------------------------------------------------------------- #
# memory (one subprocess per implementation, size and mode)
# --------------------------------------------------------------------------- #
def _proc_status_kib(key: str) -> int:
    with open('/proc/self/status') as f:
        return int(re.search(rf'^{key}:\s+(\d+)', f.read(), re.M).group(1))


def _reset_peak(device: torch.device) -> float:
    """Reset the peak; return the current usage in MiB."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / MIB
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM to the current RSS (Linux >= 4.0)
    return _proc_status_kib('VmRSS') / 1024


def _peak(device: torch.device) -> float:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) / MIB
    return _proc_status_kib('VmHWM') / 1024


def memory_worker(spec: str, args: argparse.Namespace) -> dict:
    """Peak memory of one call, in this (fresh) process.

    Args:
        spec (str): ``IMPL:INxOUT:MODE:BATCH``, IMPL one of mmagic, ours,
            ours+cp; MODE forward or train.
        args (argparse.Namespace): the options.

    Returns:
        dict: before_mib, peak_mib, rise_mib.
    """
    impl, size, mode, batch = spec.split(':')
    in_size, out_size = parse_size(size)
    batch = int(batch)
    torch.manual_seed(SEED)
    common = _common(in_size, out_size, args)
    if impl == 'mmagic':
        gen = GLEANStyleGANv2(**common).eval()
        autocast = runs_under_autocast(gen, in_size, args) is None
    else:
        gen = GLEANNet(**common, **_our_options(args)).eval()
        autocast = True
        if impl == 'ours+cp':
            enable_grad_checkpointing(gen)
    runner = Runner(gen, args, autocast)
    if mode == 'forward':
        x = runner.prepare(torch.rand(batch, 3, in_size, in_size))

        def call():
            with torch.inference_mode():
                runner(x)
    else:
        mm_disc, our_disc, _ = build_discriminators(out_size, args)
        disc = mm_disc if impl == 'mmagic' else our_disc
        step = TrainStep(runner, disc.to(args.device),
                         build_perceptual_loss().to(args.device))
        lq, gt = train_inputs(in_size, out_size, batch, runner)

        def call():
            step(lq, gt)
    call()  # warm-up: lazily built state, Adam's moments
    before = _reset_peak(args.device)
    call()
    peak = _peak(args.device)
    return dict(before_mib=before, peak_mib=peak, rise_mib=peak - before)


def _worker_argv(args: argparse.Namespace) -> List[str]:
    argv = ['--device', str(args.device), '--dtype', args.dtype,
            '--num-rrdbs', str(args.num_rrdbs),
            '--style-channels', str(args.style_channels),
            '--channel-multiplier', str(args.channel_multiplier),
            '--modconv-impl', args.modconv_impl]
    if args.threads is not None:
        argv += ['--threads', str(args.threads)]
    for flag in ('channels_last', 'ours_contiguous'):
        if getattr(args, flag):
            argv.append('--' + flag.replace('_', '-'))
    return argv


def measure_memory(impl: str, in_size: int, out_size: int, mode: str,
                   batch: int, args: argparse.Namespace) -> dict:
    """Run ``memory_worker`` in a fresh interpreter and read its result."""
    spec = f'{impl}:{in_size}x{out_size}:{mode}:{batch}'
    cmd = [sys.executable, os.path.abspath(__file__), '--memory-worker',
           spec] + _worker_argv(args)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        sys.exit(f'error: memory worker {spec} failed (exit status '
                 f'{proc.returncode}):\n{proc.stderr[-3000:]}')
    print(f'memory {spec}: {lines[-1]}', flush=True)
    return json.loads(lines[-1])


def benchmark_memory(in_size: int, out_size: int,
                     args: argparse.Namespace) -> List[dict]:
    """Peak memory of forward (batch 1) and training, per implementation."""
    impls = ['mmagic', 'ours'] + (['ours+cp'] if args.grad_checkpoint else
                                  [])
    results = []
    for mode, batch, names in (('forward', 1, impls[:2]),
                               ('train', args.train_batch_size, impls)):
        row = dict(in_size=in_size, out_size=out_size, mode=mode,
                   batch=batch)
        for impl in names:
            row[impl] = measure_memory(impl, in_size, out_size, mode, batch,
                                       args)
        results.append(row)
    return results


# --------------------------------------------------------------------------- #
# report
# --------------------------------------------------------------------------- #
def _size(r: dict) -> str:
    return f"{r['in_size']}x{r['out_size']}"


def _print_header(columns: List[str], extra: List[str],
                  numeric_from: int) -> None:
    """A Markdown table header, right-aligned from ``numeric_from`` on."""
    columns = columns + extra
    print('| ' + ' | '.join(columns) + ' |')
    print('|' + ''.join('---|' if i < numeric_from else '---:|'
                        for i in range(len(columns))))


STYLEGAN2_KIND_NAMES = {'plain': 'plain', 'r1': 'R1',
                        'path_length': 'path length',
                        'r1+path_length': 'R1 + path length'}


def _print_stylegan2(r: dict) -> None:
    """The StyleGAN2 iteration table."""
    a = r['amortised']
    print(f"\nStyleGAN2 training iteration ({r['out_size']}x{r['out_size']}, "
          f"channels capped at {r['max_channels']}, batch {r['batch']}; "
          "MMagic's StyleGAN2.train_step on its networks and on ours):\n")
    _print_header(['iteration', 'MMagic s/iter (min)', 'ours s/iter (min)',
                   'ratio', 'paired ratio'], [], numeric_from=1)
    for kind, k in r['kinds'].items():
        m, o = k['mmagic'], k['ours']
        print(f'| {STYLEGAN2_KIND_NAMES[kind]} '
              f"| {m['median_s']:.3f} ({m['min_s']:.3f}) "
              f"| {o['median_s']:.3f} ({o['min_s']:.3f}) "
              f"| {k['ratio_of_medians']:.3f} "
              f"| {k['paired_ratio_median']:.3f} |")
    iv = a['intervals']
    print(f"| amortised (R1 every {iv['r1']}, path length every "
          f"{iv['path_length']}) | {a['mmagic_s']:.3f} | {a['ours_s']:.3f} "
          f"| {a['ratio']:.3f} | |")


def print_report(report: dict) -> None:
    """Print the machine line and the Markdown tables of ``report``."""
    m = report['machine']
    load = '/'.join(f'{x:.2f}' for x in m['load_average'])
    load_end = '/'.join(f'{x:.2f}' for x in m['load_average_end'])
    print(f"\ntorch {m['torch']}, {m['device']}, {m['threads']} threads, "
          f"{m['date']}, load average (1/5/15 min) {load} at the start, "
          f"{load_end} at the end; options: {m['options']}\n")
    for note in report['notes']:
        print(f'- {note}')
    fwd, ref = report.get('forward'), report.get('reference_conv')
    if fwd:
        print('\nInference (forward):\n')
        print('| size | batch | MMagic s (min) | ours s (min) | ratio '
              '| paired ratio | MMagic img/s | ours img/s | page faults '
              'MMagic / ours |')
        print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
        for r in fwd:
            a, o, f = r['mmagic'], r['ours'], r['minor_faults']
            print(f"| {_size(r)} | {r['batch']} "
                  f"| {a['median_s']:.3f} ({a['min_s']:.3f}) "
                  f"| {o['median_s']:.3f} ({o['min_s']:.3f}) "
                  f"| {r['ratio_of_medians']:.3f} "
                  f"| {r['paired_ratio_median']:.3f} "
                  f"| {a['items_per_s']:.2f} | {o['items_per_s']:.2f} "
                  f"| {f['mmagic'] / 1e3:.0f}k / {f['ours'] / 1e3:.0f}k |")
        print(f"\n3x3 conv {ref['shape'][1]}->{ref['shape'][1]} ch at "
              f"{ref['shape'][2]}x{ref['shape'][3]}, batch "
              f"{ref['shape'][0]}: {ref['gflop']:.2f} GFLOP in "
              f"{ref['median_s']:.3f} s = {ref['gflops_per_s']:.1f} GFLOP/s "
              f"({ref['format']}, the faster layout: the practical limit)\n")
        print('| size | batch | ours GFLOP | ours GFLOP/s | MMagic GFLOP '
              '| MMagic GFLOP/s | ours GFLOP/s / 3x3 conv GFLOP/s |')
        print('|---|---:|---:|---:|---:|---:|---:|')
        for r in fwd:
            a, o = r['mmagic'], r['ours']
            print(f"| {_size(r)} | {r['batch']} "
                  f"| {o['gflop']:.2f} | {o['gflops_per_s']:.1f} "
                  f"| {a['gflop']:.2f} | {a['gflops_per_s']:.1f} "
                  f"| {o['gflops_per_s'] / ref['gflops_per_s']:.2f} |")
    train = report.get('train')
    if train:
        cp = 'cp' in train[0]
        print('\nTraining iteration (generator + discriminator step):\n')
        _print_header(['size', 'batch', 'MMagic s/iter (min)',
                       'ours s/iter (min)', 'ratio', 'paired ratio'],
                      ['ours+cp s/iter', 'ratio'] if cp else [],
                      numeric_from=1)
        for r in train:
            a, o = r['mmagic'], r['ours']
            line = (f"| {_size(r)} | {r['batch']} "
                    f"| {a['median_s']:.2f} ({a['min_s']:.2f}) "
                    f"| {o['median_s']:.2f} ({o['min_s']:.2f}) "
                    f"| {r['ratio_of_medians']:.3f} "
                    f"| {r['paired_ratio_median']:.3f} |")
            if cp:
                line += (f" {r['ours+cp']['median_s']:.2f} "
                         f"| {r['cp']['ratio_of_medians']:.3f} |")
            print(line)
    if 'stylegan2' in report:
        _print_stylegan2(report['stylegan2'])
    memory = report.get('memory')
    if memory:
        cp = any('ours+cp' in r for r in memory)
        unit = 'MiB allocated' if m['device'].startswith('cuda') else \
            'MiB RSS'
        print(f'\nPeak memory of one call ({unit}; rise over the memory '
              'held before it, in parentheses):\n')
        _print_header(['size', 'call', 'batch', 'MMagic', 'ours',
                       'ratio of rises'],
                      ['ours+cp', 'ratio of rises'] if cp else [],
                      numeric_from=2)
        for r in memory:
            a, o = r['mmagic'], r['ours']
            line = (f"| {_size(r)} | {r['mode']} | {r['batch']} "
                    f"| {a['peak_mib']:.0f} ({a['rise_mib']:.0f}) "
                    f"| {o['peak_mib']:.0f} ({o['rise_mib']:.0f}) "
                    f"| {o['rise_mib'] / a['rise_mib']:.2f} |")
            if 'ours+cp' in r:
                c = r['ours+cp']
                line += (f" {c['peak_mib']:.0f} ({c['rise_mib']:.0f}) "
                         f"| {c['rise_mib'] / a['rise_mib']:.2f} |")
            elif cp:
                line += ' | |'
            print(line)


def _options(args: argparse.Namespace) -> str:
    opts = [f'dtype={args.dtype}', f'modconv_impl={args.modconv_impl}']
    opts.append('ours NCHW' if args.ours_contiguous else
                'ours channels_last')
    for flag in ('channels_last', 'compile', 'grad_checkpoint',
                 'malloc_cache'):
        if getattr(args, flag):
            opts.append(flag)
    return ', '.join(opts)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the benchmark; see the module docstring."""
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.memory_worker is not None:
        print(json.dumps(memory_worker(args.memory_worker, args)))
        return
    notes = []
    if args.malloc_cache:
        ok = args.device.type == 'cpu' and keep_freed_memory()
        notes.append('--malloc-cache: ' + (
            'freed memory stays in the process (both implementations)'
            if ok else 'not applied (needs glibc and the CPU)'))
    report = dict(machine=dict(
        torch=torch.__version__,
        device=f'{args.device} ({device_name(args.device)})',
        threads=torch.get_num_threads(),
        load_average=os.getloadavg(),
        date=datetime.datetime.now().isoformat(timespec='seconds'),
        options=_options(args)), notes=notes)
    glean_modes = set(args.modes) - {'stylegan2'}
    for in_size, out_size in (args.sizes if glean_modes else ()):
        mmagic, ours = build_models(in_size, out_size, args)
        why = runs_under_autocast(copy.deepcopy(mmagic), in_size, args)
        if why is not None:
            notes.append(f"{in_size}x{out_size}: MMagic's GLEAN fails under "
                         f'{args.dtype} autocast ({why}); it runs in float32')
        if 'forward' in args.modes:
            report.setdefault('reference_conv',
                              benchmark_reference_conv(args))
            mm_run, our_run = Runner(mmagic, args, why is None), Runner(
                ours, args)
            for batch in forward_batches(out_size, args):
                report.setdefault('forward', []).append(
                    benchmark_forward(mm_run, our_run, in_size, batch, args))
            del mm_run, our_run
        del mmagic, ours
        if 'train' in args.modes:
            result = benchmark_train(in_size, out_size, args, why is None)
            notes.append(f"{in_size}x{out_size} training: MMagic's model "
                         f"with {result['discriminator']}"
                         + (f"; ours+cp: {result['grad_checkpoint']}"
                            if 'grad_checkpoint' in result else ''))
            report.setdefault('train', []).append(result)
        if 'memory' in args.modes:
            report.setdefault('memory', []).extend(
                benchmark_memory(in_size, out_size, args))
    if 'stylegan2' in args.modes:
        report['stylegan2'] = benchmark_stylegan2(args)
    if glean_modes and args.device.type == 'cpu' and any(
            s[1] >= LARGE_OUT_SIZE for s in args.sizes) and (
                max(args.batch_sizes) > 1):
        notes.append(f'outputs >= {LARGE_OUT_SIZE}: forward at batch 1 only '
                     'on CPU')
    report['machine']['load_average_end'] = os.getloadavg()
    print_report(report)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report['args'] = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps(report, indent=2))
        print(f'\nwrote {args.json}')


if __name__ == '__main__':
    sys.exit(run_tool(main))
