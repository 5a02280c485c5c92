"""StyleGAN2 discriminator for GLEAN's adversarial loss, in pure PyTorch."""
import contextlib
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from ..checkpoint import (check_state_dict, init_weights_strict,
                          load_state_dict_from_file)
from ..registry import MODELS
from .errors import ModelInputError
from .glean import BLACK, center_pad, check_in_shape
from .latent_bank import stylegan2_channels
from .layers import EqualLinear, to_channels_last_
from .layers.discriminator import ConvDownLayer, MiniBatchStdDev, ResBlock
from .layers.label_mapping import LabelMapping
from .layers.stylegan2 import DEFAULT_BLUR_KERNEL

__all__ = ['GLEANDiscriminator']

# MMagic's defaults for a conditional discriminator's label mapping.
COND_MAPPING_CHANNELS = 512
COND_MAPPING_LAYERS = 8


@MODELS.register_module()
class GLEANDiscriminator(BaseModule):
    """StyleGAN2 discriminator (residual, minibatch stddev), no compiled ops.

    Same arguments, ``forward`` and ``state_dict`` as MMagic's
    ``StyleGANv2Discriminator`` (so
    ``init_cfg=dict(type='Pretrained', prefix='discriminator', ...)`` on an
    MMagic StyleGAN2 checkpoint loads it). Loading is strict: a checkpoint
    that does not match raises ``CheckpointMismatchError``.

    Args:
        in_size (int): input image size (power of two, >= 8).
        img_channels (int): input channels. Default: 3.
        channel_multiplier (int): StyleGAN2 channel multiplier. Default: 2.
        blur_kernel (Sequence[int]): FIR taps. Default: (1, 3, 3, 1).
        mbstd_cfg (dict): ``group_size`` and ``channel_groups`` of the
            minibatch-stddev layer. Default: dict(group_size=4,
            channel_groups=1).
        cond_size (int, optional): label size of a conditional
            discriminator (``forward(x, label)``): the last layer gives a
            ``cond_mapping_channels`` code, whose scaled dot product with
            the label's mapping (``mapping``) is the score. None or <= 0
            (default): unconditional.
        cond_mapping_channels (int, optional): size of the label mapping's
            code; None is 512 (MMagic's).
        cond_mapping_layers (int, optional): layers of the label mapping
            after its embedding; None is 8 (MMagic's).
        fp16_enabled (bool): run in float16 autocast. Default: False.
        input_bgr2rgb (bool): flip the channel order of the input.
            Default: False.
        init_cfg (dict, optional): mmengine init config; ``Pretrained`` loads
            strictly.
        pretrained (dict, optional): ``dict(ckpt_path=..., prefix=...)``, as
            MMagic's, loaded at construction.
        max_channels (int, optional): caps the channel table (None, the
            default, is MMagic's).
        in_shape (tuple[int, int], optional): (height, width) of
            rectangular images, padded (centred, with ``pad_value``) to
            in_size x in_size before scoring, as ``GLEANNet``'s
            ``in_shape``; e.g. (384, 512) for the LSUN car StyleGAN2, whose
            real images had 64 black rows top and bottom. None (default):
            square in_size images.
        pad_value (float): padding value. Default: -1 (black in [-1, 1]).
        channels_last (bool): 4D parameters and activations channels_last
            inside, as ``GLEANNet``'s; same scores, same ``state_dict``.
            Default: True.
        **unused: MMagic's remaining arguments (``num_fp16_scales``,
            ``out_fp32``, ``convert_input_fp32``), accepted for config
            compatibility.
    """

    def __init__(self,
                 in_size: int,
                 img_channels: int = 3,
                 channel_multiplier: int = 2,
                 blur_kernel: Sequence[int] = DEFAULT_BLUR_KERNEL,
                 mbstd_cfg: Optional[dict] = None,
                 cond_size: Optional[int] = None,
                 cond_mapping_channels: Optional[int] = None,
                 cond_mapping_layers: Optional[int] = None,
                 fp16_enabled: bool = False,
                 input_bgr2rgb: bool = False,
                 init_cfg: Optional[dict] = None,
                 pretrained: Optional[dict] = None,
                 max_channels: Optional[int] = None,
                 in_shape: Optional[Tuple[int, int]] = None,
                 pad_value: float = BLACK,
                 channels_last: bool = True,
                 **unused) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_size < 8 or in_size & (in_size - 1):
            raise ValueError(
                f'in_size must be a power of two >= 8, got {in_size}')
        known = {'num_fp16_scales', 'out_fp32', 'convert_input_fp32'}
        if set(unused) - known:
            raise TypeError('GLEANDiscriminator got unexpected arguments: '
                            f'{sorted(set(unused) - known)}')
        mbstd_cfg = {**dict(group_size=4, channel_groups=1),
                     **(mbstd_cfg or {})}
        self.in_size = in_size
        self.img_channels = img_channels
        self.fp16_enabled = fp16_enabled
        self.input_bgr2rgb = input_bgr2rgb
        self.in_shape = check_in_shape(in_shape, in_size)
        self.pad_value = float(pad_value)
        ch = stylegan2_channels(in_size, channel_multiplier, max_channels)

        convs = [ConvDownLayer(img_channels, ch[in_size], 1)]
        in_ch = ch[in_size]
        for i in range(int(math.log2(in_size)), 2, -1):
            convs.append(ResBlock(in_ch, ch[2**(i - 1)], blur_kernel))
            in_ch = ch[2**(i - 1)]
        self.convs = nn.Sequential(*convs)
        self.mbstd_layer = MiniBatchStdDev(**mbstd_cfg)
        self.final_conv = ConvDownLayer(
            in_ch + mbstd_cfg.get('channel_groups', 1), ch[4], 3)
        self.cond_size = cond_size if cond_size and cond_size > 0 else None
        out_channels = 1
        if self.cond_size is not None:
            out_channels = (COND_MAPPING_CHANNELS if cond_mapping_channels
                            is None else cond_mapping_channels)
            self.mapping = LabelMapping(
                self.cond_size, out_channels,
                COND_MAPPING_LAYERS if cond_mapping_layers is None else
                cond_mapping_layers)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 16, ch[4], activate=True),
            EqualLinear(ch[4], out_channels))
        self.channels_last = channels_last
        if channels_last:
            to_channels_last_(self)
        if pretrained is not None:
            self.load_pretrained(pretrained['ckpt_path'],
                                 pretrained.get('prefix', ''))

    def _check_label(self, label: Optional[torch.Tensor],
                     batch: int) -> None:
        if self.cond_size is None:
            if label is not None:
                raise ModelInputError(
                    'label must be None for an unconditional discriminator '
                    f'(cond_size None), got a {tuple(label.shape)} tensor')
        elif label is None or tuple(label.shape) != (batch, self.cond_size):
            got = None if label is None else tuple(label.shape)
            raise ModelInputError(
                f'a conditional discriminator (cond_size={self.cond_size}) '
                f'needs a ({batch}, {self.cond_size}) label, got {got}')

    def load_pretrained(self, checkpoint: str, prefix: Optional[str]) -> None:
        """Load strictly from ``checkpoint`` (keys under ``prefix``)."""
        state = load_state_dict_from_file(checkpoint, prefix)
        check_state_dict(state, self.state_dict(), 'StyleGAN2 discriminator',
                         f'checkpoint {checkpoint!r} (prefix {prefix!r})')
        self.load_state_dict(state, strict=True)

    def init_weights(self) -> None:
        """mmengine init; ``Pretrained`` entries load strictly."""
        init_weights_strict(
            self, lambda cfg: self.load_pretrained(cfg['checkpoint'],
                                                   cfg.get('prefix')))

    def forward(self, x: torch.Tensor,
                label: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Score images.

        Args:
            x (Tensor): (N, img_channels, H, W) images, (H, W) = in_shape,
                or in_size x in_size.
            label (Tensor, optional): (N, cond_size) labels of a conditional
                discriminator; None for an unconditional one.

        Returns:
            Tensor: (N, 1) logits (real > fake), float32 (as MMagic's
            ``out_fp32``), float64 for a float64 model.
        """
        h, w = self.in_shape or (self.in_size, self.in_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.img_channels, h, w):
            raise ModelInputError(
                'GLEANDiscriminator expects (N, '
                f'{self.img_channels}, {h}, {w}) images, got '
                f'{tuple(x.shape)}')
        self._check_label(label, x.shape[0])
        if self.in_shape is not None:
            x = center_pad(x, self.in_size, self.pad_value)
        if self.input_bgr2rgb:
            x = x.flip(1)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        # without fp16_enabled the caller's autocast (e.g. bfloat16) stays in
        # force: autocast(enabled=False) would switch it off
        fp16 = torch.autocast(x.device.type, dtype=torch.float16) if (
            self.fp16_enabled) else contextlib.nullcontext()
        with fp16:
            x = self.mbstd_layer(self.convs(x))
            x = self.final_linear(self.final_conv(x).flatten(1))
            if label is not None:
                code = self.mapping(label.to(self.final_linear[0].bias.dtype))
                x = (x * code).sum(dim=1, keepdim=True) / math.sqrt(
                    code.shape[1])
        # float16 / bfloat16 logits to float32; a float64 model (e.g. for
        # gradgradcheck) keeps its precision
        return x if x.dtype == torch.float64 else x.float()
