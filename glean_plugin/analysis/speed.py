r"""Speed and memory of GLEANNet vs MMagic's GLEANStyleGANv2, same weights.

MMagic's model is built, its biases and noise weights get a small random
perturbation (so that they are not trivially zero), and its ``state_dict`` is
loaded into ours with ``strict=True``. Each mode checks parity first and
stops (``ParityError``; the tool's exit status 1) when the relative
difference ``||ours - mmagic|| / ||mmagic||`` exceeds the tolerance of the
dtype:

- ``forward``: inference (``torch.inference_mode``) latency and throughput
  per batch size, the FLOPs of one call (``FlopCounterMode``, 2 per
  multiply-accumulate) and the achieved GFLOP/s next to those of a single
  large 3x3 convolution on the same device (the practical limit).
- ``train``: one full training iteration of GLEAN's GAN recipe, built from
  the GLEAN config (``--config``: its pixel, perceptual and GAN losses, its
  discriminator and optimizers; the perceptual VGG16 with random weights):
  generator forward, L_g, backward, optimizer step; then the discriminator
  step (real and fake GAN loss, backward, step). MMagic's model trains with
  MMagic's ``StyleGAN2Discriminator``, ours with the config's
  discriminator, on the same weights (if MMagic's cannot be built, ours
  serves both and the output says so). Parity: the first iteration's
  losses (``speed_train``).
- ``memory``: peak memory of one forward (batch 1) and of one training
  iteration, each implementation and size in a fresh subprocess so that
  peaks do not mix (``speed_memory``; the definition is
  ``measure.process_peak``'s).
- ``stylegan2``: one iteration of MMagic's ``StyleGAN2.train_step`` on
  MMagic's StyleGAN2 networks and on ours (``speed_stylegan2``).

Timed calls alternate between the implementations (A B, then B A on the next
repeat, to cancel drift on a shared, noisy machine) after ``--warmup``
untimed calls each, and each timed call logs a progress line
(``speed_models.progress``). Reported: medians (and minima), the ratio of
medians ours/MMagic (< 1: ours is faster or smaller) and the median of the
per-repeat ratios. On CPU, minor page faults per call are reported too.
"""
import argparse
import copy
import datetime
import os
from typing import List

import torch
import torch.nn as nn

from ..hardware import device_name, warn_slow_dtype
from .measure import (compare, forward_with_flops, keep_freed_memory,
                      summarize, time_alternating)
from .speed_models import (DTYPES, PARITY_TOL, Runner, build_models,
                           check_parity, progress, rel_diff,
                           runs_under_autocast)

__all__ = ['LARGE_OUT_SIZE', 'benchmark_forward', 'benchmark_reference_conv',
           'forward_batches', 'options_text', 'run_speed_benchmark']

# On CPU, outputs this large run at batch 1 only (a 64->1024 forward takes
# minutes at batch 4 on a few cores).
LARGE_OUT_SIZE = 1024
# The reference convolution: (batch, channels, height, width), 3x3 kernel.
REF_CONV_SHAPE = (1, 256, 128, 128)
REF_CONV_KERNEL = 3


def _progress_of(what: str):
    return lambda line: progress(f'{what}: {line}')


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
                                    args.device,
                                    _progress_of('reference 3x3 conv'))
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
        what = f'forward {in_size}x{out_size} batch {batch}'
        check_parity(what, diff, PARITY_TOL[args.dtype])
        times, faults = time_alternating(
            {'mmagic': lambda: mmagic(xm), 'ours': lambda: ours(xo)},
            args.repeats, args.warmup, args.device, _progress_of(what))
    return dict(in_size=in_size, out_size=out_size, batch=batch,
                parity_rel_diff=diff,
                mmagic=summarize(times['mmagic'], mmagic_flops, batch),
                ours=summarize(times['ours'], our_flops, batch),
                minor_faults=faults, **compare(times))


def options_text(args: argparse.Namespace) -> str:
    """The options that change what is measured, in one line."""
    opts = [f'dtype={args.dtype}', f'modconv_impl={args.modconv_impl}']
    opts.append('ours NCHW' if args.ours_contiguous else
                'ours channels_last')
    for flag in ('channels_last', 'compile', 'grad_checkpoint',
                 'malloc_cache'):
        if getattr(args, flag):
            opts.append(flag)
    return ', '.join(opts)


def _run_sizes(report: dict, args: argparse.Namespace) -> None:
    """The forward, train and memory modes of each size, into ``report``."""
    from .speed_memory import benchmark_memory
    from .speed_train import benchmark_train
    notes = report['notes']
    for in_size, out_size in args.sizes:
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


def run_speed_benchmark(args: argparse.Namespace) -> dict:
    """Run the modes of ``args.modes``; see the module docstring.

    Args:
        args (argparse.Namespace): ``speed_cli``'s options.

    Returns:
        dict: the report (``machine``, ``notes`` and one entry per mode),
        as ``speed_report.format_report`` prints it.

    Raises:
        ParityError: the implementations disagree.
    """
    warn_slow_dtype(args.dtype, args.device, f'--dtype {args.dtype}')
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
        options=options_text(args)), notes=notes)
    if set(args.modes) - {'stylegan2'}:
        _run_sizes(report, args)
        if args.device.type == 'cpu' and any(
                s[1] >= LARGE_OUT_SIZE for s in args.sizes) and (
                    max(args.batch_sizes) > 1):
            notes.append(f'outputs >= {LARGE_OUT_SIZE}: forward at batch 1 '
                         'only on CPU')
    if 'stylegan2' in args.modes:
        from .speed_stylegan2 import benchmark_stylegan2
        report['stylegan2'] = benchmark_stylegan2(args)
    report['machine']['load_average_end'] = os.getloadavg()
    return report
