"""What the StyleGAN2 converters share: architectures, channel tables, plans.

A converter describes a source layout as a *plan*: one ``Rename`` per source
tensor (its key, the shape the architecture implies, the MMagic key it becomes
and how it is transformed). ``apply_plan`` checks a state dict against the
plan (missing, unexpected and mis-shaped keys are one error listing them all)
and produces the MMagic state dict.
"""
import math
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import torch

from ..checkpoint import (CheckpointMismatchError, format_key_list,
                          mismatch_error)
from ..models.latent_bank import stylegan2_channels

__all__ = ['ConversionWarning', 'DiscriminatorArch', 'GeneratorArch',
           'Rename', 'apply_plan', 'check_option', 'count_indexed',
           'fit_channel_table', 'lr_rescale', 'require']

# Channel multipliers tried when fitting a channel table (config-f is 2;
# nothing published goes beyond 4).
MAX_CHANNEL_MULTIPLIER = 32
# Picked when the table does not determine the multiplier (every
# resolution capped by max_channels): StyleGAN2 config-f's value.
PREFERRED_CHANNEL_MULTIPLIER = 2
# The learning-rate multiplier of StyleGAN2's mapping MLP (all layouts).
DEFAULT_LR_MLP = 0.01
# StyleGAN2's synthesis convs are 3x3.
CONV_KERNEL = 3
# Upsampling FIR filters carry the gain factor**2 in MMagic's and
# rosinality's layouts; NVIDIA applies it at run time.
UP_FACTOR = 2
UP_FILTER_GAIN = UP_FACTOR**2

Transform = Callable[[torch.Tensor], torch.Tensor]


class ConversionWarning(UserWarning):
    """Something about a converted checkpoint the user should know."""


class _Described:
    """``describe()``: the fields as one 'name=value, ...' line."""

    def describe(self) -> str:
        return ', '.join(f'{k}={v}' for k, v in asdict(self).items())


@dataclass(frozen=True)
class GeneratorArch(_Described):
    """A StyleGAN2 generator's hyper-parameters (``StyleGAN2LatentBank``'s).

    Args:
        out_size (int): output resolution.
        style_channels (int): latent (w) size.
        num_mlps (int): mapping MLP depth.
        channel_multiplier (int): StyleGAN2 channel multiplier.
        max_channels (int, optional): channel cap (None: MMagic's table).
        img_channels (int): image channels of the to-RGB layers.
    """
    out_size: int
    style_channels: int
    num_mlps: int
    channel_multiplier: int
    max_channels: Optional[int]
    img_channels: int = 3

    @property
    def channels(self) -> Dict[int, int]:
        """Resolution -> channels."""
        return stylegan2_channels(self.out_size, self.channel_multiplier,
                                  self.max_channels)

    @property
    def resolutions(self) -> Tuple[int, ...]:
        """4, 8, ..., out_size."""
        return tuple(self.channels)


@dataclass(frozen=True)
class DiscriminatorArch(_Described):
    """A StyleGAN2 discriminator's hyper-parameters (``GLEANDiscriminator``'s).

    Args:
        in_size (int): input resolution.
        channel_multiplier (int): StyleGAN2 channel multiplier.
        max_channels (int, optional): channel cap (None: MMagic's table).
        img_channels (int): input image channels.
        mbstd_channels (int): channels appended by minibatch stddev
            (``mbstd_cfg['channel_groups']``).
    """
    in_size: int
    channel_multiplier: int
    max_channels: Optional[int]
    img_channels: int = 3
    mbstd_channels: int = 1

    @property
    def channels(self) -> Dict[int, int]:
        """Resolution -> channels."""
        return stylegan2_channels(self.in_size, self.channel_multiplier,
                                  self.max_channels)

    @property
    def block_resolutions(self) -> Tuple[int, ...]:
        """Resolutions of the residual blocks: in_size, in_size / 2, ..., 8."""
        return tuple(sorted((r for r in self.channels if r > 4),
                            reverse=True))


@dataclass(frozen=True)
class Rename:
    """One source tensor: where it comes from and what it becomes.

    Args:
        src (str): key in the source state dict.
        shape (tuple[int, ...]): its shape, as the architecture implies.
        dst (str, optional): key in MMagic's layout; None: checked, then
            dropped (e.g. FIR filters MMagic does not store).
        fn (callable, optional): transform (reshape, rescale) to MMagic's
            layout; None copies.
        required (bool): False: the key may be absent.
    """
    src: str
    shape: Tuple[int, ...]
    dst: Optional[str] = None
    fn: Optional[Transform] = None
    required: bool = True


def reshape_to(*shape: int) -> Transform:
    """Transform: reshape to ``shape``."""
    return lambda t: t.reshape(shape)


def down_filter(taps: torch.Tensor) -> torch.Tensor:
    """NVIDIA's normalised (K, K) or separable (K,) resampling filter as
    MMagic's (K, K) downsampling kernel."""
    return taps if taps.ndim == 2 else taps[:, None] * taps[None, :]


def up_filter(taps: torch.Tensor) -> torch.Tensor:
    """NVIDIA's resampling filter as MMagic's (K, K) upsampling kernel,
    which includes the factor**2 gain."""
    return down_filter(taps) * UP_FILTER_GAIN


def lr_rescale(source_lr: float, target_lr: float) -> Optional[Transform]:
    """Transform keeping an equalized-lr layer's function across lr_mul.

    All three layouts store a mapping layer's weight and bias divided by its
    learning-rate multiplier and multiply by it at run time, so a checkpoint
    converts unchanged when source and target multipliers agree; otherwise
    the stored tensors are scaled by ``source_lr / target_lr``.
    """
    if math.isclose(source_lr, target_lr, rel_tol=1e-9):
        return None
    ratio = source_lr / target_lr
    return lambda t: t * ratio


def require(state: Mapping[str, torch.Tensor], key: str,
            what: str) -> torch.Tensor:
    """``state[key]``, or a CheckpointMismatchError naming it."""
    if key not in state:
        raise CheckpointMismatchError(
            f'{what} has no {key!r}, which this layout always has; its keys '
            f'are: {format_key_list(state)}')
    return state[key]


def count_indexed(state: Mapping[str, torch.Tensor], template: str,
                  start: int = 0) -> int:
    """How many consecutive ``template.format(i)`` keys, i from ``start``."""
    n = 0
    while template.format(start + n) in state:
        n += 1
    return n


def apply_plan(state: Mapping[str, torch.Tensor],
               plan: Sequence[Rename],
               what: str,
               hint: str = '') -> Dict[str, torch.Tensor]:
    """Check ``state`` against ``plan`` and convert it.

    Args:
        state (Mapping[str, Tensor]): the source state dict.
        plan (Sequence[Rename]): every key the source layout has.
        what (str): the network and the architecture the plan was made for,
            for the error message.
        hint (str): appended to the error message.

    Returns:
        dict[str, Tensor]: MMagic key -> converted tensor (own storage).

    Raises:
        CheckpointMismatchError: listing missing, unexpected and mis-shaped
            keys.
    """
    expected = {r.src: r for r in plan}
    missing = [k for k, r in expected.items() if r.required and k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f'{k} (found {tuple(state[k].shape)}, expected {r.shape})'
        for k, r in expected.items()
        if k in state and tuple(state[k].shape) != tuple(r.shape)
    ]
    if missing or unexpected or mismatched:
        raise mismatch_error(f'{what} does not match its layout:', missing,
                             unexpected, mismatched, hint=hint)
    out = {}
    for r in plan:
        if r.dst is None or r.src not in state:
            continue
        value = state[r.src].detach()
        if r.fn is not None:
            value = r.fn(value)
        out[r.dst] = value.clone().contiguous()
    return out


def check_option(name: str, given, found, what: str) -> None:
    """Raise unless an option the user gave equals what the tensors say."""
    if given is not None and given != found:
        raise ValueError(f'{name}={given} was given, but {what} has '
                         f'{name}={found}')


def _describe(multiplier: int, max_channels: Optional[int]) -> str:
    return (f'channel_multiplier={multiplier}, '
            f'max_channels={max_channels}')


def fit_channel_table(table: Mapping[int, int],
                      what: str,
                      channel_multiplier: Optional[int] = None,
                      max_channels: Optional[int] = None,
                      prefer: Iterable[Tuple[int, Optional[int]]] = ()
                      ) -> Tuple[int, Optional[int]]:
    """(channel_multiplier, max_channels) whose StyleGAN2 table is ``table``.

    Args:
        table (Mapping[int, int]): resolution -> channels found in the
            checkpoint (4 .. size).
        what (str): the network, for messages.
        channel_multiplier (int, optional): required multiplier.
        max_channels (int, optional): required cap.
        prefer (Iterable[tuple]): candidates tried first, e.g. the
            generator's fit when fitting the discriminator.

    Returns:
        tuple[int, int | None]: the fit; without a cap when one fits, and
        the multiplier ``prefer`` names, else 2, else the smallest.

    Raises:
        CheckpointMismatchError: no multiplier and cap give ``table``.
        ValueError: the given options do not give ``table`` (the message
            names a fit when there is one).
    """
    table = dict(sorted(table.items()))
    size = max(table)

    def fits_of(multipliers, caps):
        return [(m, cap) for cap in caps for m in multipliers
                if stylegan2_channels(size, m, cap) == table]

    any_multiplier = range(1, MAX_CHANNEL_MULTIPLIER + 1)
    natural_caps = (None, max(table.values()))
    multipliers = any_multiplier if channel_multiplier is None else (
        channel_multiplier, )
    allowed = fits_of(multipliers,
                      natural_caps if max_channels is None else
                      (max_channels, ))
    if not allowed:
        all_fits = fits_of(any_multiplier, natural_caps)
        if not all_fits:
            raise CheckpointMismatchError(
                f'{what} has channels {table} (resolution: channels), which '
                'is not the StyleGAN2 table (512 up to 32x32, then 16384 * '
                'channel_multiplier / resolution, optionally capped by '
                'max_channels) for any channel_multiplier in '
                f'1..{MAX_CHANNEL_MULTIPLIER}')
        m = channel_multiplier or all_fits[0][0]
        raise ValueError(
            f'{_describe(m, max_channels)} gives channels '
            f'{stylegan2_channels(size, m, max_channels)}, but {what} has '
            f'{table}; {_describe(*all_fits[0])} fits')
    for candidate in list(prefer) + [
            (PREFERRED_CHANNEL_MULTIPLIER, cap) for _, cap in allowed]:
        if candidate in allowed:
            return candidate
    return min(allowed, key=lambda mc: (mc[1] is not None, mc[0]))

