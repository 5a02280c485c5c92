"""GLEAN backbone: RRDB encoder, StyleGAN2 latent bank, pixel-shuffle decoder
(``GLEANNet``), and the padding helpers of rectangular inputs."""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from ..checkpoint import (check_state_dict, init_weights_strict,
                          load_state_dict_from_file)
from ..registry import MODELS
from .latent_bank import StyleGAN2LatentBank, check_style_args
from .layers import (PixelShufflePack, RRDBFeatureExtractor, checkpoint_call,
                     to_channels_last_)
from .layers.stylegan2 import DEFAULT_BLUR_KERNEL

__all__ = ['GLEANNet', 'center_crop', 'center_pad', 'check_in_shape']

LEAKY_SLOPE = 0.2
# Channels of the decoder's last hidden conv (as MMagic's GLEAN).
DECODER_OUT_MID_CHANNELS = 64
# The encoder stops at the StyleGAN2 constant's resolution, 4x4.
BOTTOM_RES = 4
# Padding value of rectangular inputs: black under the configs' normalisation
# (mean = std = 127.5), as the black bars of the LSUN car StyleGAN2's
# training images (NVIDIA's create_lsun_wide, MMagic's NumpyPad).
BLACK = -1.0
# Ablation switch value meaning "at no resolution".
NONE_RES = 0


def _concat_then(block: nn.Module, hr: torch.Tensor,
                 bank: torch.Tensor) -> torch.Tensor:
    return block(torch.cat([hr, bank], dim=1))


def _is_power_of_two(x: int) -> bool:
    return isinstance(x, int) and x > 0 and x & (x - 1) == 0


def _margins(inner: Tuple[int, int],
             outer: Tuple[int, int]) -> Tuple[int, int]:
    """(top, left) margins that centre an ``inner`` (H, W) in ``outer``."""
    return (outer[0] - inner[0]) // 2, (outer[1] - inner[1]) // 2


def center_pad(x: torch.Tensor, size: int,
               value: float = BLACK) -> torch.Tensor:
    """Pad an image batch to size x size, centred, with a constant.

    Args:
        x (Tensor): (N, C, H, W), H and W <= size.
        size (int): output side.
        value (float): padding value. Default: -1 (black in [-1, 1]).

    Returns:
        Tensor: (N, C, size, size) holding ``x`` at rows top..top+H and
        columns left..left+W, (top, left) = ((size - H) // 2,
        (size - W) // 2).
    """
    h, w = x.shape[-2:]
    top, left = _margins((h, w), (size, size))
    return F.pad(x, (left, size - w - left, top, size - h - top),
                 value=value)


def center_crop(x: torch.Tensor, shape: Tuple[int, int]) -> torch.Tensor:
    """The centred (H, W) = ``shape`` window, the inverse of
    :func:`center_pad`.

    Args:
        x (Tensor): (N, C, H_x, W_x), H_x >= H and W_x >= W.
        shape (tuple[int, int]): (H, W).

    Returns:
        Tensor: (N, C, H, W).
    """
    top, left = _margins(shape, tuple(x.shape[-2:]))
    return x[..., top:top + shape[0], left:left + shape[1]]


def check_in_shape(in_shape: Optional[Sequence[int]],
                   size: int) -> Optional[Tuple[int, int]]:
    """Validate a rectangular input shape that pads, centred, to size.

    Args:
        in_shape (Sequence[int], optional): (height, width), or None.
        size (int): the square side it is padded to.

    Returns:
        tuple[int, int] | None: ``in_shape`` as a tuple.

    Raises:
        ValueError: not two ints, a side outside [1, size], or a side whose
            margin size - side is odd (the padding must be symmetric).
    """
    if in_shape is None:
        return None
    if (not isinstance(in_shape, (tuple, list)) or len(in_shape) != 2
            or any(isinstance(s, bool) or not isinstance(s, int)
                   for s in in_shape)):
        raise ValueError('in_shape must be None or (height, width), two '
                         f'ints, got {in_shape!r}')
    if any(not 0 < s <= size or (size - s) % 2 for s in in_shape):
        raise ValueError(
            f'in_shape sides must be in [1, {size}] with {size} - side '
            f'even (symmetric padding to {size}x{size}), got '
            f'{tuple(in_shape)}')
    return tuple(in_shape)


@MODELS.register_module()
class GLEANNet(BaseModule):
    """GLEAN (Chan et al., "GLEAN: Generative Latent Bank for Large-Factor
    Image Super-Resolution", CVPR 2021) in pure PyTorch: RRDB encoder,
    frozen StyleGAN2 latent bank, pixel-shuffle decoder.

    MMagic's ``GLEANStyleGANv2`` with its arguments and ``state_dict`` (its
    checkpoints load strictly), but the bank really loads, mismatches raise,
    and the bank's RGB path, which GLEAN's output does not use, is not run
    (to-RGB only with ``use_decoder=False``, ``fusion_skip`` never). The
    ablation, input and speed arguments change no parameter: one checkpoint
    loads into every variant.

    MMagic's arguments (its meanings and defaults):
        in_size, out_size (int): powers of two, 4 <= in_size < out_size.
        img_channels=3 (input and output), rrdb_channels=64, num_rrdbs=23.
        style_channels=512, num_mlps=8, channel_multiplier=2,
            blur_kernel=(1, 3, 3, 1), lr_mlp=0.01: the StyleGAN2 bank.
        default_style_mode='mix', eval_style_mode='single', mix_prob=0.9:
            checked and kept, unused (the bank gets per-layer latents).
        init_cfg=None: a ``Pretrained`` entry loads, strictly, a StyleGAN2
            bank (e.g. prefix 'generator_ema') or, by its keys, a backbone.
        fp16_enabled=False: the bank in float16 autocast (clamped to +-256).
        bgr2rgb=False: flip the channels of ``use_decoder=False``'s image.
    Size and weights:
        max_channels=None (int): caps the StyleGAN2 channel table (bank,
            encoder, decoder); None: MMagic's.
        pretrained=None (str), pretrained_prefix='generator_ema': a
            StyleGAN2 checkpoint loaded into the bank at construction.
    Ablations (the paper's; the defaults are GLEAN):
        encoder_fusion_res=None (int): fuse encoder features into the bank
            at 4..this (None: in_size; 0: nowhere).
        decoder_bank_res=None (int): the decoder reads bank features at
            2 * in_size..this, zeros above (None: out_size; 0: bank not run).
        use_decoder=True: False returns the bank's RGB image (needs
            img_channels=3 and decoder_bank_res=None).
    Rectangular inputs:
        in_shape=None (tuple[int, int]): (height, width), sides <= in_size
            with in_size - side even; padded, centred, to in_size with
            pad_value=-1 (black), and the output cropped to match.
    Speed (same outputs):
        modconv_impl='auto': per call (``choose_modconv_impl``), 'scaled' or
            'grouped' (``modulated_conv2d``).
        with_cp=False: gradient checkpointing of the RRDBs, the bank's
            resolutions and the decoder stages (recomputed in backward).
        channels_last=True: 4D parameters and activations NHWC inside;
            inputs of either layout, the output NCHW.
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
                 modconv_impl: str = 'auto',
                 encoder_fusion_res: Optional[int] = None,
                 decoder_bank_res: Optional[int] = None,
                 use_decoder: bool = True,
                 in_shape: Optional[Tuple[int, int]] = None,
                 pad_value: float = BLACK,
                 with_cp: bool = False,
                 channels_last: bool = True) -> None:
        super().__init__(init_cfg=init_cfg)
        self._check_args(in_size, out_size, img_channels, default_style_mode,
                         eval_style_mode, mix_prob, encoder_fusion_res,
                         decoder_bank_res, use_decoder, in_shape, pad_value)
        # configuration, read by the forward pass and by callers
        self.in_size = in_size
        self.out_size = out_size
        self.img_channels = img_channels
        self.style_channels = style_channels
        self.default_style_mode = default_style_mode
        self.eval_style_mode = eval_style_mode
        self.mix_prob = mix_prob
        self.bgr2rgb = bgr2rgb
        self.encoder_fusion_res = (in_size if encoder_fusion_res is None
                                   else encoder_fusion_res)
        self.decoder_bank_res = (out_size if decoder_bank_res is None else
                                 decoder_bank_res)
        self.use_decoder = use_decoder
        self.in_shape = None if in_shape is None else tuple(in_shape)
        self.pad_value = float(pad_value)
        self.with_cp = with_cp
        self.channels_last = channels_last

        # built in this order: the random init draws from one generator
        self.generator = self._build_bank(
            out_size, style_channels=style_channels, num_mlps=num_mlps,
            channel_multiplier=channel_multiplier, blur_kernel=blur_kernel,
            lr_mlp=lr_mlp, max_channels=max_channels,
            modconv_impl=modconv_impl, fp16_enabled=fp16_enabled,
            with_cp=with_cp)
        # resolutions in_size, in_size / 2, ..., 4; and in_size, ..., out_size
        log_in, log_out = int(math.log2(in_size)), int(math.log2(out_size))
        self.encoder_res = [2**i for i in range(log_in, 1, -1)]
        self.decoder_res = [2**i for i in range(log_in, log_out + 1)]
        self.encoder = self._build_encoder(rrdb_channels, num_rrdbs)
        self.fusion_out, self.fusion_skip = self._build_fusion()
        self.decoder = self._build_decoder()

        if channels_last:
            to_channels_last_(self)
        if pretrained is not None:
            self.load_latent_bank(pretrained, prefix=pretrained_prefix)

    # ------------------------------------------------------------------ #
    # construction
    # ------------------------------------------------------------------ #
    @staticmethod
    def _check_args(in_size, out_size, img_channels, default_style_mode,
                    eval_style_mode, mix_prob, encoder_fusion_res,
                    decoder_bank_res, use_decoder, in_shape,
                    pad_value) -> None:
        """Raise ValueError/TypeError, naming the argument, on bad values."""
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
        check_style_args(default_style_mode, eval_style_mode, mix_prob)
        for name, res, low, high in (
                ('encoder_fusion_res', encoder_fusion_res, BOTTOM_RES,
                 in_size),
                ('decoder_bank_res', decoder_bank_res, 2 * in_size,
                 out_size)):
            if res is None or (res == NONE_RES and type(res) is int):
                continue
            if not _is_power_of_two(res) or not low <= res <= high:
                raise ValueError(
                    f'{name} must be None, {NONE_RES} or a power of two in '
                    f'[{low}, {high}] (in_size={in_size}, '
                    f'out_size={out_size}), got {res!r}')
        if not isinstance(use_decoder, bool):
            raise TypeError(
                f'use_decoder must be a bool, got {use_decoder!r}')
        if not use_decoder and decoder_bank_res is not None:
            raise ValueError(
                'decoder_bank_res needs the decoder: expected None with '
                f'use_decoder=False, got {decoder_bank_res!r}')
        if not use_decoder and img_channels != 3:
            raise ValueError(
                'use_decoder=False returns the latent bank\'s RGB image: '
                f'expected img_channels=3, got {img_channels}')
        check_in_shape(in_shape, in_size)
        if isinstance(pad_value, bool) or not isinstance(pad_value,
                                                         (int, float)):
            raise TypeError(f'pad_value must be a number, got {pad_value!r}')

    @staticmethod
    def _build_bank(out_size: int, **bank_args) -> StyleGAN2LatentBank:
        """The StyleGAN2 latent bank, frozen: GLEAN never trains it."""
        bank = StyleGAN2LatentBank(out_size, **bank_args)
        bank.requires_grad_(False)
        return bank

    def _build_encoder(self, rrdb_channels: int,
                       num_rrdbs: int) -> nn.ModuleList:
        """RRDB features at in_size, then a stride-2 conv pair per halving
        down to 4x4, where a conv and a linear layer give the latents."""
        channels = self.generator.channels
        num_latents = self.generator.num_latents
        encoder = nn.ModuleList([
            nn.Sequential(
                RRDBFeatureExtractor(
                    self.img_channels, rrdb_channels, num_blocks=num_rrdbs,
                    with_cp=self.with_cp),
                nn.Conv2d(rrdb_channels, channels[self.in_size], 3, 1, 1),
                nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        ])
        for res in self.encoder_res:
            ch = channels[res]
            if res > BOTTOM_RES:
                half = channels[res // 2]
                encoder.append(
                    nn.Sequential(
                        nn.Conv2d(ch, half, 3, 2, 1),
                        nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
                        nn.Conv2d(half, half, 3, 1, 1),
                        nn.LeakyReLU(LEAKY_SLOPE, inplace=True)))
            else:
                encoder.append(
                    nn.Sequential(
                        nn.Conv2d(ch, ch, 3, 1, 1),
                        nn.LeakyReLU(LEAKY_SLOPE, inplace=True), nn.Flatten(),
                        nn.Linear(BOTTOM_RES**2 * ch,
                                  num_latents * self.style_channels)))
        return encoder

    def _build_fusion(self) -> Tuple[nn.ModuleList, nn.ModuleList]:
        """Convs fusing encoder features into the bank at 4..in_size:
        ``fusion_out`` (its features) and ``fusion_skip`` (its RGB skip path,
        which never reaches the output: kept frozen so that MMagic's
        checkpoints load)."""
        channels = self.generator.channels
        fusion_out, fusion_skip = nn.ModuleList(), nn.ModuleList()
        for res in self.encoder_res[::-1]:
            fusion_out.append(
                nn.Conv2d(2 * channels[res], channels[res], 3, 1, 1))
            fusion_skip.append(nn.Conv2d(channels[res] + 3, 3, 3, 1, 1))
        fusion_skip.requires_grad_(False)
        return fusion_out, fusion_skip

    def _build_decoder(self) -> nn.ModuleList:
        """A pixel-shuffle stage per doubling from in_size, each reading the
        bank's features beside its input (not at in_size), then two convs
        to the image at out_size."""
        channels = self.generator.channels
        decoder = nn.ModuleList()
        for res in self.decoder_res:
            in_ch = channels[res] * (1 if res == self.in_size else 2)
            if res < self.out_size:
                decoder.append(
                    PixelShufflePack(in_ch, channels[res * 2], 2,
                                     upsample_kernel=3))
            else:
                decoder.append(
                    nn.Sequential(
                        nn.Conv2d(in_ch, DECODER_OUT_MID_CHANNELS, 3, 1, 1),
                        nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
                        nn.Conv2d(DECODER_OUT_MID_CHANNELS, self.img_channels,
                                  3, 1, 1)))
        return decoder

    @property
    def input_shape(self) -> Tuple[int, int]:
        """(height, width) of the inputs ``forward`` takes."""
        return self.in_shape or (self.in_size, self.in_size)

    @property
    def output_shape(self) -> Tuple[int, int]:
        """(height, width) of the outputs ``forward`` returns."""
        scale = self.out_size // self.in_size
        h, w = self.input_shape
        return h * scale, w * scale

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
        h, w = self.input_shape
        if not isinstance(lq, torch.Tensor) or lq.ndim != 4:
            shape = tuple(lq.shape) if isinstance(lq, torch.Tensor) else type(
                lq).__name__
            raise ValueError(
                f'GLEANNet expects a (N, {self.img_channels}, {h}, {w}) '
                f'tensor, got {shape}')
        c = lq.shape[1]
        if c != self.img_channels:
            raise ValueError(
                f'GLEANNet expects {self.img_channels} input channels, got '
                f'{c} (input shape {tuple(lq.shape)})')
        if tuple(lq.shape[2:]) != (h, w):
            what = 'in_shape' if self.in_shape else 'in_size'
            raise ValueError(
                f'GLEANNet expects inputs of {what} {h}x{w}, got '
                f'{lq.shape[2]}x{lq.shape[3]} (height x width)')

    def encode(self, lq: torch.Tensor):
        """Encoder features per resolution and the latent codes.

        Args:
            lq (Tensor): (N, C, in_size, in_size) low-resolution image
                (already padded when ``in_shape`` is set).

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

    def _run_bank(self, enc_feats: Dict[int, torch.Tensor],
                  latents: torch.Tensor):
        """Run the latent bank, fusing the encoder's features into it.

        Args:
            enc_feats (dict[int, Tensor]): encoder features, res -> (N, C,
                res, res).
            latents (Tensor): (N, num_latents, style_channels).

        Returns:
            tuple: dict res -> (N, C_res, res, res) bank features (empty when
            the decoder reads none: the bank is not run), and the (N, 3,
            out_size, out_size) RGB image with ``use_decoder=False``, else
            None.
        """
        if self.use_decoder and self.decoder_bank_res == NONE_RES:
            return {}, None
        fusion = {res: conv for res, conv in zip(self.encoder_res[::-1],
                                                 self.fusion_out)}

        def fuse(res: int, feat: torch.Tensor) -> torch.Tensor:
            if res > self.encoder_fusion_res:
                return feat
            return fusion[res](torch.cat([feat, enc_feats[res]], dim=1))

        out = self.generator(
            latents,
            fuse=fuse if self.encoder_fusion_res != NONE_RES else None,
            return_rgb=not self.use_decoder)
        if self.use_decoder:
            return out, None
        return out  # (features, RGB image)

    def _decode(self, feat: torch.Tensor,
                bank_feats: Dict[int, torch.Tensor]) -> torch.Tensor:
        """Decoder from the in_size encoder feature, fusing bank features."""
        hr = feat
        for res, block in zip(self.decoder_res, self.decoder):
            if res > self.in_size:
                bank = (bank_feats[res] if res <= self.decoder_bank_res else
                        torch.zeros_like(hr))
                # the concatenated copy is recomputed, not kept, with with_cp
                hr = checkpoint_call(_concat_then, block, hr, bank,
                                     enabled=self.with_cp)
            else:
                hr = checkpoint_call(block, hr, enabled=self.with_cp)
        return hr

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        """Super-resolve.

        Args:
            lq (Tensor): (N, img_channels, H, W), (H, W) = ``input_shape``:
                in_size x in_size, or ``in_shape``.

        Returns:
            Tensor: (N, img_channels, H', W'), (H', W') = ``output_shape``:
            out_size x out_size, or ``in_shape`` * out_size / in_size.
        """
        self._check_input(lq)
        if self.in_shape is not None:
            lq = center_pad(lq, self.in_size, self.pad_value)
        if self.channels_last:
            lq = lq.contiguous(memory_format=torch.channels_last)
        enc_feats, latents = self.encode(lq)
        bank_feats, rgb = self._run_bank(enc_feats, latents)
        if self.use_decoder:
            out = self._decode(enc_feats[self.in_size], bank_feats)
        else:
            out = rgb.flip(1) if self.bgr2rgb else rgb
        if self.in_shape is not None:
            out = center_crop(out, self.output_shape)
        return out.contiguous()
