"""GLEAN backbone: RRDB encoder -> StyleGAN2 latent bank -> pixel-shuffle decoder."""
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
from .latent_bank import StyleGAN2LatentBank
from .layers import (PixelShufflePack, RRDBFeatureExtractor,
                     checkpoint_call, to_channels_last_)
from .layers.stylegan2 import DEFAULT_BLUR_KERNEL

__all__ = ['GLEANNet', 'center_crop', 'center_pad', 'check_in_shape']

LEAKY_SLOPE = 0.2
# Channels of the decoder's last hidden conv (as MMagic's GLEAN).
DECODER_OUT_MID_CHANNELS = 64
# The encoder stops at the StyleGAN2 constant's resolution, 4x4.
BOTTOM_RES = 4
STYLE_MODES = ('mix', 'single')
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
    output, is not computed (its parameters stay so checkpoints load; the
    ``use_decoder=False`` ablation computes the to-RGB layers). Further
    arguments switch off parts of GLEAN for the paper's ablations and take
    rectangular inputs (``in_shape``).

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
        bgr2rgb (bool): flip the channel order of the bank's RGB output,
            as MMagic's StyleGAN2 generator; only used with
            ``use_decoder=False`` (GLEAN itself does not use that output).
            Default: False.
        max_channels (int, optional): caps the bank's channel table (and so
            the encoder's and decoder's). None (default) is MMagic's table;
            small values give small models for experiments, demos and tests.
        pretrained (str, optional): StyleGAN2 checkpoint for the latent bank,
            loaded at construction (keys under ``pretrained_prefix``).
        pretrained_prefix (str): prefix of the bank in ``pretrained``.
            Default: 'generator_ema'.
        modconv_impl (str): modulated-conv formulation: 'auto' (default:
            per call, see ``choose_modconv_impl``; with ``channels_last`` it
            is always 'scaled'), 'scaled' (one shared weight for the batch)
            or 'grouped' (the paper's form); equal results.
        with_cp (bool): gradient checkpointing (MMagic's name for it): under
            autograd the RRDB blocks, the latent bank's resolutions and the
            decoder stages keep only their inputs and are recomputed in the
            backward pass; less memory for about one more forward. Same
            outputs and gradients; no effect without autograd. Default: False.
        channels_last (bool): keep the 4D parameters and the activations
            channels_last (NHWC) inside the network: oneDNN and cuDNN then
            skip their layout conversions around every convolution (2-core
            CPU, 32->256 batch 4: 0.91x the time of NCHW). Inputs may have
            either layout; the output is returned NCHW-contiguous, so callers
            see no difference (same values to float rounding). The
            ``state_dict`` is unchanged. Default: True.
        encoder_fusion_res (int, optional): ablation. The encoder's
            features are fused into the latent bank (``fusion_out``) at
            4, 8, ..., ``encoder_fusion_res``; above it the bank's features
            pass unchanged. None (default): ``in_size``, GLEAN. 0: nowhere,
            the bank is conditioned on the latent codes only. Otherwise a
            power of two in [4, in_size] (the paper's progressive
            ablation).
        decoder_bank_res (int, optional): ablation. The decoder
            concatenates the latent bank's features at 2 * in_size, ...,
            ``decoder_bank_res``, and zeros of the same shape above it (the
            decoder keeps its weights, those that read the zeros get no
            gradient). None (default): ``out_size``, GLEAN. 0: nowhere, an
            encoder-decoder without the latent bank (the bank is not run).
            Otherwise a power of two in [2 * in_size, out_size].
        use_decoder (bool): ablation. False returns the latent bank's RGB
            image (its to-RGB skip path, ``return_rgb``) instead of the
            decoder's output; the encoder still conditions the bank through
            ``fusion_out`` (``fusion_skip`` stays unused: the bank has no
            hook in its RGB path). Needs ``img_channels=3`` and
            ``decoder_bank_res=None``. Default: True.
        in_shape (tuple[int, int], optional): (height, width) of
            rectangular inputs, e.g. (48, 64) with ``in_size=64`` for the
            LSUN car StyleGAN2 (trained on 384x512 images padded with 64
            black rows top and bottom). Inputs are padded, centred, to
            in_size x in_size with ``pad_value`` and the output is cropped
            to the same centred window, (height, width) * out_size /
            in_size. Each side <= in_size, and in_size - side even (the
            padding is symmetric). None (default): square in_size inputs.
        pad_value (float): value of that padding in the network's input
            space. Default: -1, black under the configs' normalisation
            (mean = std = 127.5), as the car StyleGAN2's training images.

    The switches change only the computation, never the parameters: the
    ``state_dict`` is the same for every value, so MMagic's checkpoints load
    strictly into each variant.
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
                         eval_style_mode, mix_prob)
        self._check_ablation(in_size, out_size, img_channels,
                             encoder_fusion_res, decoder_bank_res,
                             use_decoder)
        self.in_size = in_size
        self.out_size = out_size
        self.encoder_fusion_res = (in_size if encoder_fusion_res is None
                                   else encoder_fusion_res)
        self.decoder_bank_res = (out_size if decoder_bank_res is None else
                                 decoder_bank_res)
        self.use_decoder = use_decoder
        self.in_shape = check_in_shape(in_shape, in_size)
        if isinstance(pad_value, bool) or not isinstance(pad_value,
                                                         (int, float)):
            raise TypeError(f'pad_value must be a number, got {pad_value!r}')
        self.pad_value = float(pad_value)
        self.img_channels = img_channels
        self.style_channels = style_channels
        self.default_style_mode = default_style_mode
        self.eval_style_mode = eval_style_mode
        self.mix_prob = mix_prob
        self.bgr2rgb = bgr2rgb
        self.with_cp = with_cp

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
            fp16_enabled=fp16_enabled,
            with_cp=with_cp)
        self.generator.requires_grad_(False)
        channels = self.generator.channels
        num_styles = self.generator.num_latents

        # encoder: RRDB features at in_size, then stride-2 convs down to 4x4,
        # where a linear layer gives the latent codes.
        self.encoder_res = [2**i for i in range(int(math.log2(in_size)), 1, -1)]
        self.encoder = nn.ModuleList([
            nn.Sequential(
                RRDBFeatureExtractor(
                    img_channels, rrdb_channels, num_blocks=num_rrdbs,
                    with_cp=with_cp),
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

        self.channels_last = channels_last
        if channels_last:
            to_channels_last_(self)
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

    @staticmethod
    def _check_ablation(in_size, out_size, img_channels, encoder_fusion_res,
                        decoder_bank_res, use_decoder) -> None:
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
                f'GLEANNet expects {self.img_channels} input channels, got {c} '
                f'(input shape {tuple(lq.shape)})')
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
