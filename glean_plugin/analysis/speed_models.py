"""The speed harness's models: MMagic's GLEANStyleGANv2 and this plugin's
GLEANNet (built from a GLEAN config) on the same weights, how each runs
(device, memory format, autocast, ``torch.compile``), and the parity check.

The harness's options (``args``) are ``speed_cli``'s command line.
"""
import argparse
import contextlib
import copy
import functools
import logging
import os.path as osp
import sys
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log

from ..models.layers import set_grad_checkpointing, to_channels_last_
from ..registry import MODELS, mmagic_builds

__all__ = [
    'DTYPES', 'PARITY_TOL', 'ParityError', 'Runner', 'build_discriminators',
    'build_models', 'check_parity', 'enable_grad_checkpointing',
    'glean_config', 'progress', 'rel_diff', 'runs_under_autocast', 'say'
]

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
# Progress lines (one per timed call) go to this logger; the command line
# shows them on stderr.
PROGRESS_LOGGER = 'glean_plugin.analysis.speed'


class ParityError(RuntimeError):
    """The implementations' outputs differ by more than the tolerance."""


def say(message: str) -> None:
    """A line of the harness's output (stdout, as it happens)."""
    print_log(message)
    sys.stdout.flush()


def progress(message: str) -> None:
    """A progress line (``PROGRESS_LOGGER``, INFO)."""
    logging.getLogger(PROGRESS_LOGGER).info(message)


def rel_diff(a: torch.Tensor, ref: torch.Tensor) -> float:
    """||a - ref|| / ||ref|| in float64."""
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    return ((a - ref).norm() / ref.norm()).item()


def check_parity(what: str, diff: float, tol: float) -> None:
    """Say the difference; raise ``ParityError`` above ``tol``."""
    say(f'{what}: parity relative difference {diff:.3e}')
    if not diff <= tol:
        raise ParityError(f'{what}: outputs differ by {diff:.3e} > {tol:g}')


@functools.lru_cache(maxsize=None)
def _read_config(path: str) -> Config:
    """A config file, read once (the harness asks for it per model)."""
    return Config.fromfile(path)


def glean_config(config: Union[str, Config]) -> Config:
    """The GLEAN config the training step follows: its ``model`` (generator
    type, discriminator type, pixel, perceptual and GAN losses) and its
    ``optim_wrapper`` (the generator's and discriminator's optimizers).

    Raises:
        ValueError: the config lacks one of those.
    """
    cfg = config if isinstance(config, Config) else _read_config(
        osp.abspath(config))
    model = cfg.get('model') or {}
    missing = [k for k in ('generator', 'discriminator', 'pixel_loss',
                           'perceptual_loss', 'gan_loss') if k not in model]
    optim = cfg.get('optim_wrapper') or {}
    missing += [f'optim_wrapper.{k}.optimizer' for k in
                ('generator', 'discriminator')
                if 'optimizer' not in (optim.get(k) or {})]
    if missing:
        where = getattr(cfg, 'filename', None) or 'the config'
        raise ValueError(f'{osp.basename(str(where))} is not a GLEAN '
                         f'training config: it has no {", ".join(missing)} '
                         '(expected e.g. configs/glean_cat_8x.py)')
    return cfg


def _common(in_size: int, out_size: int, args: argparse.Namespace) -> dict:
    return dict(in_size=in_size, out_size=out_size,
                num_rrdbs=args.num_rrdbs,
                style_channels=args.style_channels,
                channel_multiplier=args.channel_multiplier)


def build_ours(in_size: int, out_size: int,
               args: argparse.Namespace) -> nn.Module:
    """The config's generator (GLEANNet) at the harness's sizes, no
    checkpoint, with the speed options (``--modconv-impl``,
    ``--ours-contiguous``)."""
    cfg = dict(glean_config(args.config).model.generator)
    cfg.update(_common(in_size, out_size, args), init_cfg=None,
               modconv_impl=args.modconv_impl,
               channels_last=not args.ours_contiguous)
    return MODELS.build(cfg)


def build_mmagic(in_size: int, out_size: int,
                 args: argparse.Namespace) -> nn.Module:
    """MMagic's GLEANStyleGANv2 at the harness's sizes (with MMagic's
    StyleGAN2 generator even where glean_plugin.dropin is imported)."""
    from mmagic.models.editors.glean.glean_styleganv2 import GLEANStyleGANv2
    with mmagic_builds():
        return GLEANStyleGANv2(**_common(in_size, out_size, args))


def perturb_(module: nn.Module, keys: Tuple[str, ...] = ('noise_injector',)
             ) -> None:
    """Add ``PERTURB_STD`` noise to biases and parameters named with one of
    ``keys``, so that they are not trivially zero."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith('bias') or any(k in name for k in keys):
                param.add_(torch.randn_like(param), alpha=PERTURB_STD)


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
    mmagic = build_mmagic(in_size, out_size, args)
    perturb_(mmagic)
    ours = build_ours(in_size, out_size, args)
    ours.load_state_dict(mmagic.state_dict(), strict=True)
    return mmagic.eval(), ours.eval()


def build_discriminators(out_size: int,
                         args: argparse.Namespace) -> Tuple[nn.Module,
                                                            nn.Module, str]:
    """MMagic's StyleGAN2 discriminator (or ours) and the config's
    discriminator, same weights.

    Returns:
        tuple: (discriminator for MMagic's model, ours, a note on which
        discriminator MMagic's model uses).
    """
    torch.manual_seed(SEED)
    kw = dict(in_size=out_size, channel_multiplier=args.channel_multiplier)
    try:
        # the defining module: glean_plugin.dropin rebinds the package's name
        from mmagic.models.editors.stylegan2.stylegan2_discriminator import \
            StyleGAN2Discriminator
        theirs = StyleGAN2Discriminator(**kw)
        theirs(torch.zeros(1, 3, out_size, out_size))
        note = "MMagic's StyleGAN2Discriminator"
    except Exception as err:  # no compiled ops, or another build failure
        theirs = None
        note = (f"ours (MMagic's StyleGAN2Discriminator failed: "
                f'{type(err).__name__}: {err})')
    ours = MODELS.build(dict(glean_config(args.config).model.discriminator,
                             init_cfg=None, **kw))
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
