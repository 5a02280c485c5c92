"""StyleGAN2's networks, and their use as GLEAN's latent bank.

``StyleGAN2Base`` holds the mapping and synthesis layers with the parameters
and state-dict keys of MMagic's ``StyleGAN2Generator`` (so its
``generator_ema.*`` checkpoints load with ``strict=True``). Two forwards use
it: ``StyleGAN2LatentBank`` exposes what GLEAN needs (per-resolution
features, a hook to fuse encoder features into them, the RGB path only when
asked for); ``StyleGAN2Generator`` (``stylegan2_generator.py``) is MMagic's
sampling interface for training a bank.
"""
import contextlib
import math
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .errors import ModelInputError
from .layers import ConstantInput, EqualLinear, PixelNorm, StyledConv, ToRGB
from .layers.activation_checkpoint import checkpoint_call
from .layers.equalized import PIXEL_NORM_EPS
from .layers.stylegan2 import DEFAULT_BLUR_KERNEL

__all__ = ['StyleGAN2Base', 'StyleGAN2LatentBank', 'check_style_args',
           'stylegan2_channels', 'STYLE_MODES']

# StyleGAN2 config-f: 512 channels up to 32x32, then 16384 * multiplier / res.
LOW_RES_CHANNELS = 512
LOW_RES_LIMIT = 32
_CHANNEL_BASE = 16384
# Clamp applied to fp16 activations, as StyleGAN2-ADA / MMagic (conv_clamp).
FP16_CONV_CLAMP = 256.0

# MMagic's style modes: two codes mixed at a random layer, or one code.
STYLE_MODES = ('mix', 'single')

FuseFn = Callable[[int, torch.Tensor], torch.Tensor]
Features = Dict[int, torch.Tensor]
FeaturesAndRGB = Tuple[Features, torch.Tensor]


def stylegan2_channels(out_size: int,
                       channel_multiplier: int = 2,
                       max_channels: Optional[int] = None) -> Dict[int, int]:
    """StyleGAN2's channel table (MMagic's) for resolutions 4..out_size.

    Args:
        out_size (int): largest resolution (power of two).
        channel_multiplier (int): 2 for config-f. Default: 2.
        max_channels (int, optional): caps every resolution; None (default)
            is MMagic's table. Small values give small models for
            experiments, demos and tests.

    Returns:
        dict[int, int]: resolution -> channels.
    """
    table = {}
    res = 4
    while res <= out_size:
        ch = LOW_RES_CHANNELS if res <= LOW_RES_LIMIT else (
            _CHANNEL_BASE * channel_multiplier // res)
        table[res] = ch if max_channels is None else min(ch, max_channels)
        res *= 2
    return table


def check_style_args(default_style_mode: str, eval_style_mode: str,
                     mix_prob: float) -> None:
    """Check MMagic's style-mixing arguments of a StyleGAN2 generator.

    Args:
        default_style_mode (str): one of ``STYLE_MODES``.
        eval_style_mode (str): one of ``STYLE_MODES``.
        mix_prob (float): in [0, 1].

    Raises:
        ValueError: naming the argument, what it must be and its value.
    """
    for name, mode in (('default_style_mode', default_style_mode),
                       ('eval_style_mode', eval_style_mode)):
        if mode not in STYLE_MODES:
            raise ValueError(
                f'{name} must be one of {STYLE_MODES}, got {mode!r}')
    if not 0 <= mix_prob <= 1:
        raise ValueError(f'mix_prob must be in [0, 1], got {mix_prob}')


NoiseMaps = Sequence[Optional[torch.Tensor]]


class StyleGAN2Base(nn.Module):
    """StyleGAN2's mapping and synthesis networks in MMagic's key layout.

    Holds the layers and runs them (``map_latents``, ``synthesize``); the
    subclasses give the forward their callers need: GLEAN's latent bank
    (per-resolution features, encoder fusion) and the trainable generator
    (``StyleGAN2Generator``: MMagic's sampling interface). State-dict keys and
    shapes are MMagic's ``StyleGAN2Generator``'s.

    Args:
        out_size (int): output resolution (power of two, >= 8).
        style_channels (int): latent (w) size. Default: 512.
        num_mlps (int): mapping MLP depth. Default: 8.
        channel_multiplier (int): channel multiplier. Default: 2.
        blur_kernel (Sequence[int]): FIR taps. Default: (1, 3, 3, 1).
        lr_mlp (float): mapping learning-rate multiplier. Default: 0.01.
        max_channels (int, optional): channel cap, see ``stylegan2_channels``.
        out_channels (int): image channels of the RGB path. Default: 3.
        modconv_impl (str): 'auto' (default), 'scaled' or 'grouped', see
            ``modulated_conv2d``; equal results.
        fp16_enabled (bool): run the synthesis convs in float16 autocast with
            activations clamped to +-256, as MMagic's ``fp16_enabled``.
            Default: False.
        with_cp (bool): gradient checkpointing: under autograd keep only each
            resolution's input (fusion and both styled convs are recomputed
            in the backward pass). Default: False.
        norm_eps (float): epsilon of the mapping's PixelNorm. Default: 1e-6.
        noise_size (int, optional): size of z; None (default) is
            ``style_channels``.
        cond_size (int, optional): size of a label (e.g. one-hot class) that
            conditions the mapping, as MMagic's: the label's embedding
            (``embed``, to ``cond_mapping_channels``) and z are pixel-normed
            separately and concatenated. None or <= 0 (default):
            unconditional.
        cond_mapping_channels (int, optional): size of the label embedding;
            None is ``style_channels``.
    """

    def __init__(self,
                 out_size: int,
                 style_channels: int = 512,
                 num_mlps: int = 8,
                 channel_multiplier: int = 2,
                 blur_kernel: Sequence[int] = DEFAULT_BLUR_KERNEL,
                 lr_mlp: float = 0.01,
                 max_channels: Optional[int] = None,
                 out_channels: int = 3,
                 modconv_impl: str = 'auto',
                 fp16_enabled: bool = False,
                 with_cp: bool = False,
                 norm_eps: float = PIXEL_NORM_EPS,
                 noise_size: Optional[int] = None,
                 cond_size: Optional[int] = None,
                 cond_mapping_channels: Optional[int] = None) -> None:
        super().__init__()
        if out_size < 8 or out_size & (out_size - 1):
            raise ValueError(
                f'out_size must be a power of two >= 8, got {out_size}')
        self.out_size = out_size
        self.style_channels = style_channels
        self.out_channels = out_channels
        self.fp16_enabled = fp16_enabled
        self.with_cp = with_cp
        self.channels = stylegan2_channels(out_size, channel_multiplier,
                                           max_channels)
        self.log_size = int(math.log2(out_size))
        self.num_latents = self.log_size * 2 - 2
        self.num_injected_noises = self.num_latents - 1

        self.noise_size = style_channels if noise_size is None else noise_size
        self.cond_size = cond_size if cond_size and cond_size > 0 else None
        if self.cond_size is None:
            # the first layer of MMagic's unconditional mapping is PixelNorm
            mapping = [PixelNorm(norm_eps)]
            cond_channels = 0
        else:
            cond_channels = (style_channels if cond_mapping_channels is None
                             else cond_mapping_channels)
            self.embed = EqualLinear(self.cond_size, cond_channels)
            # z and the label's embedding are normalised separately
            self.pixel_norm = PixelNorm(norm_eps)
            mapping = []
        in_channels = self.noise_size + cond_channels
        for _ in range(num_mlps):
            mapping.append(EqualLinear(in_channels, style_channels,
                                       lr_mul=lr_mlp, activate=True))
            in_channels = style_channels
        self.style_mapping = nn.Sequential(*mapping)

        ch = self.channels
        self.constant_input = ConstantInput(ch[4])
        self.conv1 = StyledConv(
            ch[4], ch[4], 3, style_channels, blur_kernel=blur_kernel,
            impl=modconv_impl)
        self.to_rgb1 = ToRGB(ch[4], style_channels, out_channels,
                             upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_ch = ch[4]
        for res in self.resolutions[1:]:
            self.convs.append(
                StyledConv(in_ch, ch[res], 3, style_channels, upsample=True,
                           blur_kernel=blur_kernel, impl=modconv_impl))
            self.convs.append(
                StyledConv(ch[res], ch[res], 3, style_channels,
                           blur_kernel=blur_kernel, impl=modconv_impl))
            self.to_rgbs.append(
                ToRGB(ch[res], style_channels, out_channels,
                      blur_kernel=blur_kernel))
            in_ch = ch[res]
        for i, size in enumerate(self.noise_sizes):
            self.register_buffer(f'injected_noise_{i}',
                                 torch.randn(1, 1, size, size))

    @property
    def resolutions(self) -> Tuple[int, ...]:
        """Resolutions 4, 8, ..., out_size."""
        return tuple(2**i for i in range(2, self.log_size + 1))

    @property
    def noise_sizes(self) -> Tuple[int, ...]:
        """Side of each noise map: conv1 uses #0, the two convs at 2**k use
        #(2k-5) and #(2k-4), i.e. resolution 2**((i + 5) // 2)."""
        return tuple(2**((i + 5) // 2)
                     for i in range(self.num_injected_noises))

    def injected_noise(self, index: int) -> torch.Tensor:
        """The fixed noise map ``index``: (1, 1, H, H)."""
        return getattr(self, f'injected_noise_{index}')

    def check_label(self, label: Optional[torch.Tensor],
                    batch: int) -> None:
        """Raise ModelInputError unless ``label`` fits the mapping: (batch,
        cond_size) for a conditional one, None otherwise."""
        if self.cond_size is None:
            if label is not None:
                raise ModelInputError(
                    'label must be None for an unconditional StyleGAN2 '
                    f'(cond_size None), got a {tuple(label.shape)} tensor')
            return
        if label is None:
            raise ModelInputError(
                f'a conditional StyleGAN2 (cond_size={self.cond_size}) needs '
                f'a (N, {self.cond_size}) label, got None')
        if label.ndim != 2 or tuple(label.shape) != (batch, self.cond_size):
            raise ModelInputError(
                f'label must be ({batch}, {self.cond_size}), got '
                f'{tuple(label.shape)}')

    def map_latents(self, z: torch.Tensor,
                    label: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mapping MLP, z -> w.

        Args:
            z (Tensor): (N, noise_size) codes.
            label (Tensor, optional): (N, cond_size) labels of a conditional
                mapping; None for an unconditional one.

        Returns:
            Tensor: (N, style_channels) w codes.
        """
        self.check_label(label, z.shape[0])
        if label is None:
            return self.style_mapping(z)
        embedding = self.pixel_norm(self.embed(label.to(z.dtype)))
        return self.style_mapping(
            torch.cat([self.pixel_norm(z), embedding], dim=1))

    def _styled(self, conv: StyledConv, x, w, noise):
        out = conv(x, w, noise)
        if self.fp16_enabled:
            # in place only without autograd: the epilogue saves ``out``
            clamp = out.clamp if torch.is_grad_enabled() else out.clamp_
            out = clamp(-FP16_CONV_CLAMP, FP16_CONV_CLAMP)
        return out

    def _resolution_step(self, i: int, out: torch.Tensor,
                         latents: torch.Tensor, fuse: Optional[FuseFn],
                         noises: Tuple[Optional[torch.Tensor], ...]
                         ) -> torch.Tensor:
        """Fuse at 2**(i + 2), then the two styled convs of 2**(i + 3)."""
        if fuse is not None:
            out = fuse(2**(i + 2), out)
        out = self._styled(self.convs[2 * i], out, latents[:, 1 + 2 * i],
                           noises[0])
        return self._styled(self.convs[2 * i + 1], out,
                            latents[:, 2 + 2 * i], noises[1])

    def check_latents(self, latents: torch.Tensor) -> None:
        """Raise ModelInputError unless latents is (N, num_latents,
        style)."""
        expected = (self.num_latents, self.style_channels)
        if latents.ndim != 3 or tuple(latents.shape[1:]) != expected:
            raise ModelInputError(
                f'latents must be (N, {expected[0]}, {expected[1]}), got '
                f'{tuple(latents.shape)}')

    def fixed_noises(self) -> Tuple[torch.Tensor, ...]:
        """The fixed noise buffers, one (1, 1, H, H) map per styled conv."""
        return tuple(
            self.injected_noise(i) for i in range(self.num_injected_noises))

    def synthesize(self,
                   latents: torch.Tensor,
                   noises: NoiseMaps,
                   fuse: Optional[FuseFn] = None,
                   return_rgb: bool = False
                   ) -> Tuple[Features, Optional[torch.Tensor]]:
        """Run the synthesis network on per-layer latents.

        Args:
            latents (Tensor): (N, num_latents, style_channels) w+ codes.
            noises (Sequence[Tensor | None]): ``num_injected_noises`` noise
                maps, #i (1 or N, 1, H_i, H_i) with H_i = ``noise_sizes[i]``;
                None draws fresh Gaussian noise for that layer.
            fuse (callable, optional): ``fuse(res, feat) -> feat`` is applied
                to the feature map at every resolution ``res`` < out_size
                before it is upsampled to the next one (GLEAN's encoder
                fusion). Its output must keep the shape.
            return_rgb (bool): also compute the image through the to-RGB
                skip path.

        Returns:
            tuple: dict[int, Tensor] resolution -> (N, C_res, res, res)
            feature (before fusion), and the (N, out_channels, out, out)
            image (float32 under fp16_enabled) or None without
            ``return_rgb``.
        """
        self.check_latents(latents)
        if len(noises) != self.num_injected_noises:
            raise ValueError(f'noises must hold {self.num_injected_noises} '
                             f'maps (or None), got {len(noises)}')
        n = latents.shape[0]
        # Without fp16_enabled the caller's autocast state (e.g. bfloat16)
        # stays in force: autocast(enabled=False) would switch it off.
        fp16 = torch.autocast(latents.device.type, dtype=torch.float16) if (
            self.fp16_enabled) else contextlib.nullcontext()
        with fp16:
            feats = {}
            out = self._styled(self.conv1,
                               self.constant_input(n).to(latents.dtype),
                               latents[:, 0], noises[0])
            feats[4] = out
            rgb = self.to_rgb1(out, latents[:, 1]) if return_rgb else None
            for i, res in enumerate(self.resolutions[1:]):
                out = checkpoint_call(
                    self._resolution_step, i, out, latents, fuse,
                    (noises[1 + 2 * i], noises[2 + 2 * i]),
                    enabled=self.with_cp)
                feats[res] = out
                if return_rgb:
                    rgb = self.to_rgbs[i](out, latents[:, 3 + 2 * i], rgb)
        if self.fp16_enabled:
            feats = {r: f.float() for r, f in feats.items()}
            rgb = rgb.float() if rgb is not None else None
        return feats, rgb


class StyleGAN2LatentBank(StyleGAN2Base):
    """StyleGAN2 generator whose synthesis features are used by GLEAN.

    Arguments as ``StyleGAN2Base``; a ``StyleGAN2Generator``'s state dict
    (or MMagic's) loads strictly.
    """

    def forward(self,
                latents: torch.Tensor,
                fuse: Optional[FuseFn] = None,
                randomize_noise: bool = False,
                return_rgb: bool = False) -> Union[Features, FeaturesAndRGB]:
        """Run the synthesis network on per-layer latents.

        Args:
            latents (Tensor): (N, num_latents, style_channels) w+ codes.
            fuse (callable, optional): ``fuse(res, feat) -> feat`` is applied
                to the feature map at every resolution ``res`` < out_size
                before it is upsampled to the next one (GLEAN's encoder
                fusion). Its output must keep the shape.
            randomize_noise (bool): fresh noise instead of the fixed maps.
            return_rgb (bool): also compute the RGB image through the to-RGB
                skip path (GLEAN itself does not use it).

        Returns:
            dict[int, Tensor]: resolution -> (N, C_res, res, res) feature
            (before fusion); with ``return_rgb``, the tuple of that dict and
            the (N, out_channels, out, out) image.
        """
        noises = ((None, ) * self.num_injected_noises
                  if randomize_noise else self.fixed_noises())
        feats, rgb = self.synthesize(latents, noises, fuse, return_rgb)
        return (feats, rgb) if return_rgb else feats
