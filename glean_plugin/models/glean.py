"""GLEAN backbone: RRDB encoder -> StyleGAN2 latent bank -> pixel-shuffle decoder."""
import math
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModule

from ..checkpoint import (check_state_dict, init_weights_strict,
                          load_state_dict_from_file)
from ..registry import MODELS
from .latent_bank import StyleGAN2LatentBank
from .layers import PixelShufflePack, RRDBFeatureExtractor
from .layers.stylegan2 import DEFAULT_BLUR_KERNEL

__all__ = ['GLEANNet']

LEAKY_SLOPE = 0.2
# Channels of the decoder's last hidden conv (as MMagic's GLEAN).
DECODER_OUT_MID_CHANNELS = 64
# The encoder stops at the StyleGAN2 constant's resolution, 4x4.
BOTTOM_RES = 4
STYLE_MODES = ('mix', 'single')


def _is_power_of_two(x: int) -> bool:
    return isinstance(x, int) and x > 0 and x & (x - 1) == 0


@MODELS.register_module()
class GLEANNet(BaseModule):
    """GLEAN with a StyleGAN2 latent bank, in pure PyTorch.

    Paper: GLEAN: Generative Latent Bank for Large-Factor Image
    Super-Resolution, Chan et al., CVPR 2021.

    Accepts every argument of MMagic's ``GLEANStyleGANv2`` with the same
    meaning and default, and has the same ``state_dict`` keys and shapes, so
    MMagic's GLEAN checkpoints load with ``strict=True``. Differences: the
    latent bank really loads from ``init_cfg=dict(type='Pretrained',
    checkpoint=..., prefix='generator_ema')`` (or ``pretrained``), checkpoint
    mismatches raise, no compiled ops are needed, and the RGB skip path of
    the bank (to-RGB layers, ``fusion_skip``), which cannot change the
    output, is not computed (its parameters stay so checkpoints load).

    Args:
        in_size (int): input size (power of two, >= 4).
        out_size (int): output size (power of two, > in_size).
        img_channels (int): image channels. Default: 3.
        rrdb_channels (int): RRDB feature channels. Default: 64.
        num_rrdbs (int): RRDB blocks in the encoder. Default: 23.
        style_channels (int): StyleGAN2 latent size. Default: 512.
        num_mlps (int): StyleGAN2 mapping depth. Default: 8.
        channel_multiplier (int): StyleGAN2 channel multiplier. Default: 2.
        blur_kernel (Sequence[int]): StyleGAN2 FIR taps. Default: [1, 3, 3, 1].
        lr_mlp (float): mapping learning-rate multiplier. Default: 0.01.
        default_style_mode (str): 'mix' or 'single'. Accepted for
            compatibility: GLEAN feeds the bank per-layer latents, so style
            mixing never happens (as in MMagic). Default: 'mix'.
        eval_style_mode (str): as ``default_style_mode``. Default: 'single'.
        mix_prob (float): in [0, 1], accepted for compatibility. Default: 0.9.
        init_cfg (dict | list[dict], optional): mmengine init config. A
            ``Pretrained`` entry with a StyleGAN2 checkpoint and
            ``prefix='generator_ema'`` loads the latent bank (strictly); one
            whose keys are a whole GLEAN backbone loads the backbone.
        fp16_enabled (bool): run the bank in float16 autocast (activations
            clamped to +-256), as MMagic's. Default: False.
        bgr2rgb (bool): accepted for compatibility; it only affects the
            bank's RGB output, which GLEAN does not use. Default: False.
        max_channels (int, optional): caps the bank's channel table (and so
            the encoder's and decoder's). None (default) is MMagic's table;
            small values give small models for experiments, demos and tests.
        pretrained (str, optional): StyleGAN2 checkpoint for the latent bank,
            loaded at construction (keys under ``pretrained_prefix``).
        pretrained_prefix (str): prefix of the bank in ``pretrained``.
            Default: 'generator_ema'.
        modconv_impl (str): modulated-conv formulation, 'scaled' (default:
            one shared weight for the batch) or 'grouped' (the paper's form);
            equal results.
    """

    def __init__(self,
                 in_size: int,
                 out_size: int,
                 img_channels: int = 3,
                 rrdb_channels: int = 64,
                 num_rrdbs: int = 23,
                 style_channels: int = 512,
                 num_mlps: int = 8,
                 channel_multiplier: int = 2,
                 blur_kernel: Sequence[int] = DEFAULT_BLUR_KERNEL,
                 lr_mlp: float = 0.01,
                 default_style_mode: str = 'mix',
                 eval_style_mode: str = 'single',
                 mix_prob: float = 0.9,
                 init_cfg: Optional[dict] = None,
                 fp16_enabled: bool = False,
                 bgr2rgb: bool = False,
                 max_channels: Optional[int] = None,
                 pretrained: Optional[str] = None,
                 pretrained_prefix: str = 'generator_ema',
                 modconv_impl: str = 'scaled') -> None:
        super().__init__(init_cfg=init_cfg)
        self._check_args(in_size, out_size, img_channels, default_style_mode,
                         eval_style_mode, mix_prob)
        self.in_size = in_size
        self.out_size = out_size
        self.img_channels = img_channels
        self.style_channels = style_channels
        self.default_style_mode = default_style_mode
        self.eval_style_mode = eval_style_mode
        self.mix_prob = mix_prob
        self.bgr2rgb = bgr2rgb

        # latent bank (StyleGAN2), frozen
        self.generator = StyleGAN2LatentBank(
            out_size,
            style_channels=style_channels,
            num_mlps=num_mlps,
            channel_multiplier=channel_multiplier,
            blur_kernel=blur_kernel,
            lr_mlp=lr_mlp,
            max_channels=max_channels,
            modconv_impl=modconv_impl,
            fp16_enabled=fp16_enabled)
        self.generator.requires_grad_(False)
        channels = self.generator.channels
        num_styles = self.generator.num_latents

        # encoder: RRDB features at in_size, then stride-2 convs down to 4x4,
        # where a linear layer gives the latent codes.
        self.encoder_res = [2**i for i in range(int(math.log2(in_size)), 1, -1)]
        self.encoder = nn.ModuleList([
            nn.Sequential(
                RRDBFeatureExtractor(
                    img_channels, rrdb_channels, num_blocks=num_rrdbs),
                nn.Conv2d(rrdb_channels, channels[in_size], 3, 1, 1),
                nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        ])
        for res in self.encoder_res:
            ch = channels[res]
            if res > BOTTOM_RES:
                self.encoder.append(
                    nn.Sequential(
                        nn.Conv2d(ch, channels[res // 2], 3, 2, 1),
                        nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
                        nn.Conv2d(channels[res // 2], channels[res // 2], 3, 1,
                                  1), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)))
            else:
                self.encoder.append(
                    nn.Sequential(
                        nn.Conv2d(ch, ch, 3, 1, 1),
                        nn.LeakyReLU(LEAKY_SLOPE, inplace=True), nn.Flatten(),
                        nn.Linear(BOTTOM_RES**2 * ch,
                                  num_styles * style_channels)))

        # fusion of encoder features into the bank, 4x4 .. in_size
        self.fusion_out = nn.ModuleList()
        # Kept (frozen) only so that MMagic checkpoints load: they fuse
        # encoder features into the bank's RGB skip path, which never reaches
        # the output.
        self.fusion_skip = nn.ModuleList()
        for res in self.encoder_res[::-1]:
            self.fusion_out.append(
                nn.Conv2d(2 * channels[res], channels[res], 3, 1, 1))
            self.fusion_skip.append(nn.Conv2d(channels[res] + 3, 3, 3, 1, 1))
        self.fusion_skip.requires_grad_(False)

        # decoder: in_size -> out_size, fusing the bank's features
        self.decoder_res = [
            2**i for i in range(int(math.log2(in_size)),
                                int(math.log2(out_size)) + 1)
        ]
        self.decoder = nn.ModuleList()
        for res in self.decoder_res:
            in_ch = channels[res] * (1 if res == in_size else 2)
            if res < out_size:
                self.decoder.append(
                    PixelShufflePack(in_ch, channels[res * 2], 2,
                                     upsample_kernel=3))
            else:
                self.decoder.append(
                    nn.Sequential(
                        nn.Conv2d(in_ch, DECODER_OUT_MID_CHANNELS, 3, 1, 1),
                        nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
                        nn.Conv2d(DECODER_OUT_MID_CHANNELS, img_channels, 3,
                                  1, 1)))

        if pretrained is not None:
            self.load_latent_bank(pretrained, prefix=pretrained_prefix)

    @staticmethod
    def _check_args(in_size, out_size, img_channels, default_style_mode,
                    eval_style_mode, mix_prob) -> None:
        for name, size in (('in_size', in_size), ('out_size', out_size)):
            if not _is_power_of_two(size) or size < BOTTOM_RES:
                raise ValueError(
                    f'{name} must be a power of two >= {BOTTOM_RES}, got '
                    f'{size!r}')
        if in_size >= out_size:
            raise ValueError('in_size must be smaller than out_size, got '
                             f'in_size={in_size}, out_size={out_size}')
        if not isinstance(img_channels, int) or img_channels < 1:
            raise ValueError(
                f'img_channels must be a positive int, got {img_channels!r}')
        for name, mode in (('default_style_mode', default_style_mode),
                           ('eval_style_mode', eval_style_mode)):
            if mode not in STYLE_MODES:
                raise ValueError(
                    f'{name} must be one of {STYLE_MODES}, got {mode!r}')
        if not 0 <= mix_prob <= 1:
            raise ValueError(f'mix_prob must be in [0, 1], got {mix_prob}')

    # ------------------------------------------------------------------ #
    # weights
    # ------------------------------------------------------------------ #
    def load_latent_bank(self, checkpoint: str,
                         prefix: Optional[str] = 'generator_ema') -> None:
        """Load the StyleGAN2 latent bank strictly from a checkpoint.

        Args:
            checkpoint (str): path or URL of a StyleGAN2 checkpoint.
            prefix (str, optional): key prefix of the generator in it.

        Raises:
            FileNotFoundError, CheckpointMismatchError: with what was
            expected and what the checkpoint holds.
        """
        state = load_state_dict_from_file(checkpoint, prefix)
        self._load_bank_state(
            state, f'checkpoint {checkpoint!r} (prefix {prefix!r})')

    def _load_bank_state(self, state: dict, source: str) -> None:
        check_state_dict(state, self.generator.state_dict(),
                         'StyleGAN2 latent bank', source)
        self.generator.load_state_dict(state, strict=True)
        print_log(f'Loaded the latent bank ({len(state)} tensors) from '
                  f'{source}', logger='current')

    def _load_pretrained(self, cfg: dict) -> None:
        """Load a ``Pretrained`` init_cfg: the bank or the whole backbone."""
        checkpoint, prefix = cfg['checkpoint'], cfg.get('prefix')
        state = load_state_dict_from_file(
            checkpoint, prefix, cfg.get('map_location', 'cpu'))
        source = f'checkpoint {checkpoint!r} (prefix {prefix!r})'
        if any(k.startswith(('encoder.', 'decoder.')) for k in state):
            check_state_dict(state, self.state_dict(), 'GLEAN backbone',
                             source)
            self.load_state_dict(state, strict=True)
            print_log(f'Loaded the GLEAN backbone from {source}',
                      logger='current')
        else:
            self._load_bank_state(state, source)

    def init_weights(self) -> None:
        """mmengine init; ``Pretrained`` entries load strictly (see class)."""
        init_weights_strict(self, self._load_pretrained)

    # ------------------------------------------------------------------ #
    # forward
    # ------------------------------------------------------------------ #
    def _check_input(self, lq: torch.Tensor) -> None:
        if not isinstance(lq, torch.Tensor) or lq.ndim != 4:
            shape = tuple(lq.shape) if isinstance(lq, torch.Tensor) else type(
                lq).__name__
            raise ValueError(
                f'GLEANNet expects a (N, {self.img_channels}, {self.in_size}, '
                f'{self.in_size}) tensor, got {shape}')
        n, c, h, w = lq.shape
        if c != self.img_channels:
            raise ValueError(
                f'GLEANNet expects {self.img_channels} input channels, got {c} '
                f'(input shape {tuple(lq.shape)})')
        if h != self.in_size or w != self.in_size:
            raise ValueError(
                f'GLEANNet expects inputs of in_size {self.in_size}x'
                f'{self.in_size}, got {h}x{w}')

    def encode(self, lq: torch.Tensor):
        """Encoder features per resolution and the latent codes.

        Args:
            lq (Tensor): (N, C, in_size, in_size) low-resolution image.

        Returns:
            tuple: dict res -> (N, C_res, res, res) features (in_size..4),
            and (N, num_latents, style_channels) latents.
        """
        feat = self.encoder[0](lq)
        feats = {self.in_size: feat}
        for res, block in zip(self.encoder_res, self.encoder[1:]):
            feat = block(feat)
            if res > BOTTOM_RES:
                feats[res // 2] = feat
        latents = feat.view(lq.shape[0], -1, self.style_channels)
        return feats, latents

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """Super-resolve.

        Args:
            lq (Tensor): (N, img_channels, in_size, in_size).

        Returns:
            Tensor: (N, img_channels, out_size, out_size).
        """
        self._check_input(lq)
        enc_feats, latents = self.encode(lq)
        fusion = {res: conv for res, conv in zip(self.encoder_res[::-1],
                                                 self.fusion_out)}

        def fuse(res: int, feat: torch.Tensor) -> torch.Tensor:
            if res > self.in_size:
                return feat
            return fusion[res](torch.cat([feat, enc_feats[res]], dim=1))

        bank_feats = self.generator(latents, fuse=fuse)

        hr = enc_feats[self.in_size]
        for res, block in zip(self.decoder_res, self.decoder):
            if res > self.in_size:
                hr = torch.cat([hr, bank_feats[res]], dim=1)
            hr = block(hr)
        return hr
