"""StyleGAN2 generator with MMagic's sampling interface, for training banks.

The layers and the synthesis pass are the latent bank's (``StyleGAN2Base``):
a trained generator's state dict is a latent bank's, and MMagic's
``StyleGAN2Generator`` checkpoints load into it strictly.
"""
import random
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from ..registry import MODELS
from .errors import ModelInputError
from .latent_bank import NoiseMaps, StyleGAN2Base, check_style_args

__all__ = ['StyleGAN2Generator']

# MMagic's get_mean_latent: 4096 codes, mapped in batches of 1024.
MEAN_LATENT_SAMPLES = 4096
MEAN_LATENT_BATCH = 1024

StylesInput = Union[torch.Tensor, Sequence[torch.Tensor],
                    Callable[[Tuple[int, int]], torch.Tensor], None]
GeneratorOutput = Union[torch.Tensor, Dict[str, object]]


# MMagic's own class holds the names 'StyleGAN2Generator' and
# 'StyleGANv2Generator'; this one takes the plugin's prefix, and
# glean_plugin.dropin maps those names to it.
@MODELS.register_module(name='GLEANStyleGAN2Generator')
class StyleGAN2Generator(StyleGAN2Base):
    """StyleGAN2 generator (Karras et al., "Analyzing and Improving the Image
    Quality of StyleGAN", CVPR 2020) in pure PyTorch.

    Mapping z -> w (PixelNorm + ``num_mlps`` EqualLinear layers at
    ``lr_mlp``), one w per synthesis layer with style mixing, per-layer noise
    and the truncation trick, optionally conditioned on a label; arguments,
    ``forward``, ``style_mixing`` and state dict as MMagic's
    ``StyleGAN2Generator``. Registered as ``GLEANStyleGAN2Generator``.
    Arguments after ``noise_size`` are keyword-only; those not named in the
    signature (architecture from ``cond_size`` on, and speed) go to
    ``StyleGAN2Base`` unchanged.

    Architecture:
        out_size (int): output resolution (power of two, >= 8).
        style_channels (int): size of w. Default: 512.
        out_channels (int): image channels. Default: 3.
        noise_size (int, optional): size of z; None (default) is
            ``style_channels``.
        cond_size (int, optional): size of the label of a conditional
            generator (``forward(..., label=...)``); None or <= 0
            (default): unconditional. A conditional generator tracks the
            mean w in ``w_avg`` (as with ``update_mean_latent_with_ema``).
        cond_mapping_channels (int, optional): size of the label embedding;
            None is ``style_channels``.
        num_mlps (int): mapping depth. Default: 8.
        channel_multiplier (int): channel multiplier. Default: 2.
        blur_kernel (Sequence[int]): FIR taps. Default: (1, 3, 3, 1).
        lr_mlp (float): mapping learning-rate multiplier. Default: 0.01.
        norm_eps (float): PixelNorm epsilon. Default: 1e-6.
        max_channels (int, optional): caps the channel table (see
            ``stylegan2_channels``) for small models; None is MMagic's.

    Sampling:
        default_style_mode (str): 'mix' (default) or 'single', used in
            training mode when ``forward`` samples z itself.
        eval_style_mode (str): the same in eval mode. Default: 'single'.
        mix_prob (float): probability of mixing two codes in 'mix' mode.
            Default: 0.9.
        update_mean_latent_with_ema (bool): track the mean w in the buffer
            ``w_avg`` (updated by ``forward(update_ws=True)`` in training);
            ``get_mean_latent`` then returns it. Default: False.
        w_avg_beta (float): EMA decay of ``w_avg``. Default: 0.998.
        bgr2rgb (bool): flip the output's channel order. Default: False.

    Speed (same results):
        fp16_enabled (bool): synthesis in float16 autocast, activations
            clamped to +-256; the image is float32. Default: False.
        modconv_impl (str): 'auto', 'scaled' or 'grouped', see
            ``modulated_conv2d``. Default: 'auto'.
        with_cp (bool): gradient checkpointing per resolution.
            Default: False.
    """

    def __init__(self,
                 out_size: int,
                 style_channels: int = 512,
                 out_channels: int = 3,
                 noise_size: Optional[int] = None,
                 *,
                 default_style_mode: str = 'mix',
                 eval_style_mode: str = 'single',
                 mix_prob: float = 0.9,
                 update_mean_latent_with_ema: bool = False,
                 w_avg_beta: float = 0.998,
                 bgr2rgb: bool = False,
                 **synthesis_args) -> None:
        check_style_args(default_style_mode, eval_style_mode, mix_prob)
        # the architecture and speed arguments are StyleGAN2Base's
        super().__init__(out_size, style_channels=style_channels,
                         out_channels=out_channels, noise_size=noise_size,
                         **synthesis_args)
        self._default_style_mode = default_style_mode
        self.default_style_mode = default_style_mode
        self.eval_style_mode = eval_style_mode
        self.mix_prob = mix_prob
        self.bgr2rgb = bgr2rgb
        # get_mean_latent cannot sample labels: a conditional generator
        # tracks the mean w, as MMagic's does
        if update_mean_latent_with_ema or self.cond_size is not None:
            self.register_buffer('w_avg', torch.zeros(style_channels))
            self.w_avg_beta = w_avg_beta

    def train(self, mode: bool = True) -> 'StyleGAN2Generator':
        """Switch modules and the style mode (training or evaluation)."""
        self.default_style_mode = (
            self._default_style_mode if mode else self.eval_style_mode)
        return super().train(mode)

    # ------------------------------------------------------------------ #
    # latents and noise
    # ------------------------------------------------------------------ #
    def make_injected_noise(self) -> List[torch.Tensor]:
        """Fresh noise maps, one (1, 1, H_i, H_i) per styled conv."""
        device = self.constant_input.input.device
        return [torch.randn(1, 1, s, s, device=device)
                for s in self.noise_sizes]

    @torch.no_grad()
    def get_mean_latent(self,
                        num_samples: int = MEAN_LATENT_SAMPLES,
                        bs_per_repeat: int = MEAN_LATENT_BATCH
                        ) -> torch.Tensor:
        """Mean w of ``num_samples`` random codes (or the tracked ``w_avg``).

        Draws z on the CPU in batches of ``bs_per_repeat`` as MMagic does, so
        a seed gives MMagic's value; no autograd graph is kept. A
        conditional generator always tracks ``w_avg``.

        Args:
            num_samples (int): number of codes, a multiple of
                ``bs_per_repeat``. Default: 4096.
            bs_per_repeat (int): codes mapped at once. Default: 1024.

        Returns:
            Tensor: (1, style_channels), or (style_channels,) ``w_avg`` with
            ``update_mean_latent_with_ema``.
        """
        if hasattr(self, 'w_avg'):
            return self.w_avg
        if (bs_per_repeat < 1 or num_samples < bs_per_repeat
                or num_samples % bs_per_repeat):
            raise ValueError(
                'num_samples must be a positive multiple of bs_per_repeat, '
                f'got num_samples={num_samples}, '
                f'bs_per_repeat={bs_per_repeat}')
        device = self.constant_input.input.device
        total = 0
        for _ in range(num_samples // bs_per_repeat):
            z = torch.randn(bs_per_repeat, self.noise_size).to(device)
            total = total + self.map_latents(z).mean(0, keepdim=True)
        return total / (num_samples // bs_per_repeat)

    def _sample_styles(self, sampler: Callable[[Tuple[int, int]],
                                               torch.Tensor],
                       num_batches: int, dim: int) -> List[torch.Tensor]:
        """One or (with probability mix_prob in 'mix' mode) two (N, dim)
        codes."""
        if num_batches < 1:
            raise ModelInputError(
                'num_batches must be >= 1 when styles is None or a sampler, '
                f'got {num_batches}')
        count = 2 if (self.default_style_mode == 'mix'
                      and random.random() < self.mix_prob) else 1
        device = self.constant_input.input.device
        return [sampler((num_batches, dim)).to(device) for _ in range(count)]

    def _styles_list(self, styles: StylesInput, num_batches: int,
                     input_is_latent: bool) -> List[torch.Tensor]:
        """``forward``'s ``styles`` as a list of one or two codes."""
        dim = self.style_channels if input_is_latent else self.noise_size
        if styles is None:
            if input_is_latent:
                raise ModelInputError(
                    'input_is_latent=True needs styles, got None')
            return self._sample_styles(torch.randn, num_batches, dim)
        if isinstance(styles, torch.Tensor):
            styles = [styles]
        elif callable(styles):
            return self._sample_styles(styles, num_batches, dim)
        elif not (isinstance(styles, Sequence) and all(
                isinstance(s, torch.Tensor) for s in styles)):
            raise TypeError('styles must be a Tensor, a sequence of Tensors, '
                            f'a callable or None, got {type(styles)}')
        if len(styles) not in (1, 2):
            raise ModelInputError(
                f'styles must hold 1 or 2 codes, got {len(styles)}')
        # one w code may be w+ (one per layer); mixed codes are single w/z
        ndims = (2, 3) if input_is_latent and len(styles) == 1 else (2, )
        for s in styles:
            if s.ndim not in ndims or s.shape[-1] != dim:
                expected = ' or '.join(
                    f'(N, {self.num_latents}, {dim})' if nd == 3 else
                    f'(N, {dim})' for nd in ndims)
                raise ModelInputError(
                    f'styles must be {expected}, got {tuple(s.shape)}')
        return list(styles)

    def _noise_maps(self, injected_noise: Optional[NoiseMaps],
                    randomize_noise: bool, add_noise: bool,
                    like: torch.Tensor) -> NoiseMaps:
        if not add_noise:
            return tuple(like.new_zeros(1, 1, s, s) for s in self.noise_sizes)
        if injected_noise is not None:
            if len(injected_noise) != self.num_injected_noises:
                raise ModelInputError(
                    f'injected_noise must hold {self.num_injected_noises} '
                    f'maps, got {len(injected_noise)}')
            return tuple(injected_noise)
        if randomize_noise:
            return (None, ) * self.num_injected_noises
        return self.fixed_noises()

    def _truncate(self, styles: List[torch.Tensor], truncation: float,
                  truncation_latent: Optional[torch.Tensor]
                  ) -> List[torch.Tensor]:
        """w -> mean + truncation * (w - mean); the mean is computed once
        (``get_mean_latent``) and kept as ``self.truncation_latent``."""
        if truncation_latent is None:
            if not hasattr(self, 'truncation_latent'):
                self.truncation_latent = self.get_mean_latent()
            truncation_latent = self.truncation_latent
        mean = truncation_latent.to(styles[0])
        return [mean + truncation * (s - mean) for s in styles]

    def _per_layer_latents(self, styles: List[torch.Tensor],
                           inject_index: Optional[int]
                           ) -> Tuple[torch.Tensor, int]:
        """(N, num_latents, style) codes: the first code up to
        ``inject_index``, the second after it."""
        num = self.num_latents
        if len(styles) == 1:
            style = styles[0]
            latent = style if style.ndim == 3 else style.unsqueeze(1).repeat(
                1, num, 1)
            return latent, num
        if inject_index is None:
            inject_index = random.randint(1, num - 1)
        if not 0 <= inject_index <= num:
            raise ModelInputError(
                f'inject_index must be in [0, {num}], got {inject_index}')
        latent = torch.cat([
            styles[0].unsqueeze(1).repeat(1, inject_index, 1),
            styles[1].unsqueeze(1).repeat(1, num - inject_index, 1)
        ], 1)
        return latent, inject_index

    def style_mixing(self,
                     n_source: int,
                     n_target: int,
                     inject_index: int = 1,
                     truncation_latent: Optional[torch.Tensor] = None,
                     truncation: float = 0.7,
                     **forward_args) -> torch.Tensor:
        """A style-mixing grid from random codes (MMagic's ``style_mixing``).

        Draws ``n_source`` and then ``n_target`` z codes (Gaussian, on the
        CPU, as MMagic does, so a seed gives MMagic's grid) and generates
        them, then each target's code in the first ``inject_index`` layers
        with every source's code after.

        Args:
            n_source (int): number of source codes, >= 1.
            n_target (int): number of target codes, >= 1.
            inject_index (int): layers that take the target's code.
                Default: 1.
            truncation_latent (Tensor, optional): (1, style_channels) mean w,
                as in ``forward``.
            truncation (float): truncation factor. Default: 0.7.
            **forward_args: further ``forward`` arguments (e.g.
                ``randomize_noise``).

        Returns:
            Tensor: (1 + n_source + n_target * (1 + n_source),
            out_channels, out_size, out_size): a blank (-1) image, the
            sources, then per target its image and its n_source mixes.
        """
        if n_source < 1 or n_target < 1:
            raise ValueError('n_source and n_target must be >= 1, got '
                             f'n_source={n_source}, n_target={n_target}')
        device = self.constant_input.input.device
        source = torch.randn(n_source, self.noise_size).to(device)
        target = torch.randn(n_target, self.noise_size).to(device)
        args = dict(truncation_latent=truncation_latent,
                    truncation=truncation, **forward_args)
        source_img = self(source, **args)
        target_img = self(target, **args)
        grid = [source_img.new_full((1, *source_img.shape[1:]), -1.),
                source_img]
        for i in range(n_target):
            mixed = self([target[i:i + 1].expand(n_source, -1), source],
                         inject_index=inject_index, **args)
            grid += [target_img[i:i + 1], mixed]
        return torch.cat(grid)

    # ------------------------------------------------------------------ #
    # forward
    # ------------------------------------------------------------------ #
    def forward(self,
                styles: StylesInput = None,
                label: Optional[torch.Tensor] = None,
                num_batches: int = -1,
                return_noise: bool = False,
                return_latents: bool = False,
                inject_index: Optional[int] = None,
                truncation: float = 1.,
                truncation_latent: Optional[torch.Tensor] = None,
                input_is_latent: bool = False,
                injected_noise: Optional[NoiseMaps] = None,
                add_noise: bool = True,
                randomize_noise: bool = True,
                update_ws: bool = False,
                return_features: bool = False,
                feat_idx: int = 5,
                return_latent_only: bool = False) -> GeneratorOutput:
        """Generate images (MMagic's ``StyleGAN2Generator.forward``).

        Args:
            styles (Tensor | Sequence[Tensor] | callable | None): z codes
                (N, noise_size), or w codes (N, style_channels) with
                ``input_is_latent`` (then also one (N, num_latents,
                style_channels) w+ code). Two codes mix styles at
                ``inject_index``. A callable ``sampler((num_batches, size))``
                or None (Gaussian) draws one code, or two with probability
                ``mix_prob`` in 'mix' style mode.
            label (Tensor, optional): (N, cond_size) labels of a conditional
                generator, needed there for z codes (w codes already carry
                them, and it is then unused); must be None for an
                unconditional one.
            num_batches (int): batch size N when sampling. Default: -1.
            return_noise (bool): return a dict (see Returns). Default: False.
            return_latents (bool): return a dict (see Returns).
                Default: False.
            inject_index (int, optional): number of layers that take the first
                of two codes, in [0, num_latents]; random in
                [1, num_latents - 1] when None.
            truncation (float): below 1, w -> mean + truncation * (w - mean).
                Default: 1.
            truncation_latent (Tensor, optional): (1, style_channels) mean w
                for truncation; None uses ``get_mean_latent()``, computed
                once and kept as ``self.truncation_latent``.
            input_is_latent (bool): ``styles`` are w, not z. Default: False.
            injected_noise (Sequence[Tensor], optional):
                ``num_injected_noises`` noise maps, #i (1 or N, 1, H_i, H_i)
                with H_i = ``noise_sizes[i]``; overrides ``randomize_noise``.
            add_noise (bool): inject noise at all; False injects zeros (the
                noise weights then get zero gradients). Default: True.
            randomize_noise (bool): fresh noise; False uses the fixed buffers
                ``injected_noise_{i}``. Default: True.
            update_ws (bool): in training, update ``w_avg`` with the first
                code's batch mean (needs update_mean_latent_with_ema).
            return_features (bool): with a dict, also ``feats``: the features
                (N, C, H, H) after synthesis layer pair ``feat_idx``.
            feat_idx (int): index into resolutions 4, 8, ... Default: 5.
            return_latent_only (bool): return only the (N, num_latents,
                style_channels) per-layer codes.

        Returns:
            Tensor | dict: the (N, out_channels, out_size, out_size) float32
            image; with ``return_noise`` or ``return_latents`` a dict with
            ``fake_img``, ``latent`` (N, num_latents, style_channels),
            ``inject_index`` (int) and ``noise_batch`` (the list of z codes,
            None with ``input_is_latent``), and ``feats`` when asked.
        """
        styles = self._styles_list(styles, num_batches, input_is_latent)
        noise_batch = None
        if not input_is_latent:
            noise_batch = styles
            styles = [self.map_latents(s, label) for s in styles]
        elif self.cond_size is None:
            self.check_label(label, styles[0].shape[0])
        if hasattr(self, 'w_avg') and self.training and update_ws:
            self.w_avg.copy_(styles[0].detach().mean(0).lerp(
                self.w_avg, self.w_avg_beta))
        noises = self._noise_maps(injected_noise, randomize_noise, add_noise,
                                  styles[0])
        if truncation < 1:
            styles = self._truncate(styles, truncation, truncation_latent)
        latent, inject_index = self._per_layer_latents(styles, inject_index)
        if return_latent_only:
            return latent

        feats, img = self.synthesize(latent, noises, return_rgb=True)
        img = img.float()
        if self.bgr2rgb:
            img = torch.flip(img, dims=[1])
        if not (return_latents or return_noise):
            return img
        out = dict(fake_img=img, latent=latent, inject_index=inject_index,
                   noise_batch=noise_batch)
        if return_features:
            out['feats'] = list(feats.values())[feat_idx]
        return out
