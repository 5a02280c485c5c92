"""The speed harness's ``stylegan2`` mode: one iteration of MMagic's
``StyleGAN2.train_step`` (``base_styleganv2``: D step with the
non-saturating logistic loss and lazy R1, G step with lazy path-length
regularisation, EMA update, Adam) on MMagic's StyleGAN2Generator /
StyleGAN2Discriminator and on ours (``StyleGAN2Generator``,
``GLEANDiscriminator``), same weights, CPU.

Parity: the losses of iterations 0 (R1 and path length) and 1 (plain, after
step 0's updates), with Python's and torch's generators seeded alike. Timed:
a plain, an R1, a path-length and an R1 + path-length iteration, and their
mean over MMagic's intervals (R1 every 16, path length every 4).
``--stylegan2-channels`` caps the channel table of both (MMagic's modules are
built with the capped counts); 512 is MMagic's table.
"""
import argparse
import contextlib
import math
import random
from typing import Dict, Tuple

import torch
import torch.nn as nn
from mmengine import MessageHub
from mmengine.optim import OptimWrapper, OptimWrapperDict

from ..models import GLEANDiscriminator, StyleGAN2Generator
from .measure import compare, summarize, time_alternating
from .speed_models import (SEED, ParityError, check_parity, perturb_, progress,
                           rel_diff, say)

__all__ = ['STYLEGAN2_KINDS', 'StyleGAN2Step', 'amortised_counts',
           'benchmark_stylegan2', 'build_stylegan2_networks']

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
    from mmagic.models.editors.stylegan2 import stylegan2_discriminator as mod
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
    # the defining modules: glean_plugin.dropin rebinds the package's names
    from mmagic.models.editors.stylegan2.stylegan2_discriminator import \
        StyleGAN2Discriminator
    from mmagic.models.editors.stylegan2.stylegan2_generator import \
        StyleGAN2Generator as MMagicStyleGAN2Generator
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
    for module in (theirs_g, theirs_d):
        perturb_(module, keys=('noise', ))
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
        from mmagic.models import DataPreprocessor
        from mmagic.models.editors.stylegan2 import StyleGAN2
        from mmagic.structures import DataSample
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
        raise ValueError('--modes stylegan2 runs on the CPU only, got '
                         f'--device {args.device}')
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
            raise ParityError(f"stylegan2 iteration {iteration}: losses "
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
             steps.items()}, args.train_repeats, args.warmup, args.device,
            lambda line, k=kind: progress(f'stylegan2 {k}: {line}'))
        result['kinds'][kind] = dict(
            mmagic=summarize(times['mmagic'], items=batch),
            ours=summarize(times['ours'], items=batch), **compare(times))
        say(f'stylegan2 {kind}: timed')
    counts = amortised_counts()
    amortised = {name: sum(n * result['kinds'][k][name]['median_s']
                           for k, n in counts.items()) / sum(counts.values())
                 for name in steps}
    result['amortised'] = dict(
        intervals=dict(r1=R1_INTERVAL, path_length=G_REG_INTERVAL),
        counts=counts, mmagic_s=amortised['mmagic'], ours_s=amortised['ours'],
        ratio=amortised['ours'] / amortised['mmagic'])
    return result
