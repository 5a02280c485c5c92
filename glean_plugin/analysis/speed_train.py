"""The speed harness's training iteration: GLEAN's GAN recipe, built from a
GLEAN config (its losses, discriminator type and optimizers), on MMagic's
generator and on ours."""
import argparse
import copy
from typing import Tuple

import torch
import torch.nn as nn

from ..registry import MODELS, OPTIMIZERS
from .measure import compare, summarize, time_alternating
from .speed_models import (PARITY_TOL, SEED, Runner, build_discriminators,
                           build_models, check_parity,
                           enable_grad_checkpointing, glean_config, progress,
                           rel_diff)

__all__ = ['GleanLosses', 'TrainStep', 'benchmark_train', 'train_inputs']


class GleanLosses(nn.Module):
    """The config's pixel, perceptual and GAN losses (``model.pixel_loss``,
    ``perceptual_loss``, ``gan_loss``), the perceptual VGG with random
    weights (``pretrained=None``: nothing is downloaded).

    Args:
        config (str | Config): a GLEAN training config.
    """

    def __init__(self, config) -> None:
        super().__init__()
        model = glean_config(config).model
        self.pixel = MODELS.build(model.pixel_loss)
        self.perceptual = MODELS.build(dict(model.perceptual_loss,
                                            pretrained=None))
        self.gan = MODELS.build(model.gan_loss)

    def generator(self, out: torch.Tensor, gt: torch.Tensor,
                  fake_logits: torch.Tensor) -> torch.Tensor:
        """L_g = pixel + perceptual + GAN (each with its config weight)."""
        return (self.pixel(out, gt) + self.perceptual(out, gt)[0] +
                self.gan(fake_logits, target_is_real=True, is_disc=False))

    def discriminator(self, real_logits: torch.Tensor,
                      fake_logits: torch.Tensor) -> torch.Tensor:
        """L_d = GAN loss on real images as real plus fakes as fake."""
        return (self.gan(real_logits, target_is_real=True, is_disc=True) +
                self.gan(fake_logits, target_is_real=False, is_disc=True))


def _optimizer(config, which: str, params) -> torch.optim.Optimizer:
    cfg = glean_config(config).optim_wrapper[which].optimizer
    return OPTIMIZERS.build(dict(cfg, params=params))


class TrainStep:
    """One GLEAN training iteration: generator step, discriminator step.

    Args:
        gen (Runner): the generator.
        disc (nn.Module): the discriminator (float32, on the device).
        losses (GleanLosses): the losses.
        config (str | Config): the config whose optimizers to build.
    """

    def __init__(self, gen: Runner, disc: nn.Module, losses: GleanLosses,
                 config) -> None:
        self.gen, self.disc, self.losses = gen, disc, losses
        self.opt_g = _optimizer(
            config, 'generator',
            [p for p in gen.eager.parameters() if p.requires_grad])
        self.opt_d = _optimizer(config, 'discriminator', disc.parameters())

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
        loss_g = self.losses.generator(out, gt, self.disc(out))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.disc.requires_grad_(True)
        loss_d = self.losses.discriminator(self.disc(gt),
                                           self.disc(out.detach()))
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
    losses = GleanLosses(args.config).to(args.device)
    steps = {
        'mmagic': TrainStep(Runner(mm_gen, args, mmagic_autocast),
                            mm_disc.to(args.device), losses, args.config),
        'ours': TrainStep(Runner(our_gen, args), our_disc.to(args.device),
                          losses, args.config),
    }
    cp_note = None
    if args.grad_checkpoint:
        cp_gen = copy.deepcopy(our_gen)
        cp_note = enable_grad_checkpointing(cp_gen)
        steps['ours+cp'] = TrainStep(Runner(cp_gen, args),
                                     copy.deepcopy(our_disc), losses,
                                     args.config)
    batch = args.train_batch_size
    lq, gt = train_inputs(in_size, out_size, batch, steps['ours'].gen)
    losses_0 = {name: step(lq, gt) for name, step in steps.items()}
    what = f'train {in_size}x{out_size} batch {batch} (losses)'
    diff = max(rel_diff(o, m) for o, m in zip(losses_0['ours'],
                                               losses_0['mmagic']))
    check_parity(what, diff, PARITY_TOL[args.dtype])
    if 'ours+cp' in losses_0:
        check_parity(what + ' ours+cp vs ours', max(
            rel_diff(c, o)
            for c, o in zip(losses_0['ours+cp'], losses_0['ours'])),
                     PARITY_TOL[args.dtype])
    times, faults = time_alternating(
        {name: (lambda s=step: s(lq, gt)) for name, step in steps.items()},
        args.train_repeats, max(args.warmup - 1, 0), args.device,
        lambda line: progress(f'train {in_size}x{out_size} batch {batch}: '
                              + line))
    result = dict(in_size=in_size, out_size=out_size, batch=batch,
                  parity_rel_diff=diff, discriminator=disc_note,
                  minor_faults=faults, **compare(times))
    for name in steps:
        result[name] = summarize(times[name], items=batch)
    if cp_note is not None:
        result['grad_checkpoint'] = cp_note
        result['cp'] = compare(times, 'ours+cp', 'mmagic')
    return result
