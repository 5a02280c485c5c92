"""The speed harness's ``memory`` mode: peak memory of one forward (batch
1) and of one training iteration, each implementation and size in a fresh
interpreter so that peaks do not mix.

After one warm-up call (which also allocates the optimizers' state) the
peak is reset; reported are the memory in use before the call, the peak
during it and the rise (``measure.reset_process_peak`` /
``measure.process_peak``: CPU resident set size, CUDA allocated bytes).
"""
import argparse
import json
import subprocess
import sys
from typing import List

import torch

from .measure import MIB, process_peak, reset_process_peak
from .speed_models import (SEED, Runner, build_discriminators, build_mmagic,
                           build_ours, enable_grad_checkpointing,
                           runs_under_autocast, say)

__all__ = ['MemoryWorkerError', 'benchmark_memory', 'measure_memory',
           'memory_worker']

# The module whose command line runs ``memory_worker`` (``--memory-worker``).
WORKER_MODULE = 'glean_plugin.analysis.speed_cli'
# How much of a failed worker's stderr the error quotes.
STDERR_TAIL = 3000


class MemoryWorkerError(RuntimeError):
    """A memory subprocess failed."""


def memory_worker(spec: str, args: argparse.Namespace) -> dict:
    """Peak memory of one call, in this (fresh) process.

    Args:
        spec (str): ``IMPL:INxOUT:MODE:BATCH``, IMPL one of mmagic, ours,
            ours+cp; MODE forward or train.
        args (argparse.Namespace): the options.

    Returns:
        dict: before_mib, peak_mib, rise_mib.
    """
    from .speed_cli import parse_size
    from .speed_train import GleanLosses, TrainStep, train_inputs
    impl, size, mode, batch = spec.split(':')
    in_size, out_size = parse_size(size)
    batch = int(batch)
    torch.manual_seed(SEED)
    if impl == 'mmagic':
        gen = build_mmagic(in_size, out_size, args).eval()
        autocast = runs_under_autocast(gen, in_size, args) is None
    else:
        gen = build_ours(in_size, out_size, args).eval()
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
                         GleanLosses(args.config).to(args.device),
                         args.config)
        lq, gt = train_inputs(in_size, out_size, batch, runner)

        def call():
            step(lq, gt)
    call()  # warm-up: lazily built state, the optimizers' moments
    before = reset_process_peak(args.device) / MIB
    call()
    peak = process_peak(args.device) / MIB
    return dict(before_mib=before, peak_mib=peak, rise_mib=peak - before)


def _worker_argv(args: argparse.Namespace) -> List[str]:
    argv = ['--device', str(args.device), '--dtype', args.dtype,
            '--num-rrdbs', str(args.num_rrdbs),
            '--style-channels', str(args.style_channels),
            '--channel-multiplier', str(args.channel_multiplier),
            '--modconv-impl', args.modconv_impl,
            '--config', str(args.config)]
    if args.threads is not None:
        argv += ['--threads', str(args.threads)]
    for flag in ('channels_last', 'ours_contiguous'):
        if getattr(args, flag):
            argv.append('--' + flag.replace('_', '-'))
    return argv


def measure_memory(impl: str, in_size: int, out_size: int, mode: str,
                   batch: int, args: argparse.Namespace) -> dict:
    """Run ``memory_worker`` in a fresh interpreter and read its result.

    Raises:
        MemoryWorkerError: the worker failed or printed no result.
    """
    spec = f'{impl}:{in_size}x{out_size}:{mode}:{batch}'
    cmd = [sys.executable, '-m', WORKER_MODULE, '--memory-worker',
           spec] + _worker_argv(args)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        raise MemoryWorkerError(
            f'memory worker {spec} failed (exit status {proc.returncode}):'
            f'\n{proc.stderr[-STDERR_TAIL:]}')
    say(f'memory {spec}: {lines[-1]}')
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
