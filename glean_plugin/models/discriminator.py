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
from .glean import BLACK, center_pad, check_in_shape
from .latent_bank import stylegan2_channels
from .layers import EqualLinear, to_channels_last_
from .layers.discriminator import ConvDownLayer, MiniBatchStdDev, ResBlock
from .layers.stylegan2 import DEFAULT_BLUR_KERNEL

__all__ = ['GLEANDiscriminator']


@MODELS.register_module()
class GLEANDiscriminator(BaseModule):
    """StyleGAN2 discriminator (residual, minibatch stddev), no compiled ops.

    Same arguments and ``state_dict`` as MMagic's ``StyleGANv2Discriminator``
    (so ``init_cfg=dict(type='Pretrained', prefix='discriminator', ...)`` on
    an MMagic StyleGAN2 checkpoint loads it). Loading is strict: a checkpoint
    that does not match raises ``CheckpointMismatchError``.

    Args:
        in_size (int): input image size (power of two, >= 8).
        img_channels (int): input channels. Default: 3.
        channel_multiplier (int): StyleGAN2 channel multiplier. Default: 2.
        blur_kernel (Sequence[int]): FIR taps. Default: (1, 3, 3, 1).
        mbstd_cfg (dict): ``group_size`` and ``channel_groups`` of the
            minibatch-stddev layer. Default: dict(group_size=4,
            channel_groups=1).
        cond_size (int, optional): conditional discriminators are not
            supported; must be None or <= 0.
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
        **unused: MMagic's remaining arguments (``cond_mapping_channels``,
            ``cond_mapping_layers``, ``num_fp16_scales``, ``out_fp32``,
            ``convert_input_fp32``), accepted for config compatibility.
    """

    def __init__(self,
                 in_size: int,
                 img_channels: int = 3,
                 channel_multiplier: int = 2,
                 blur_kernel: Sequence[int] = DEFAULT_BLUR_KERNEL,
                 mbstd_cfg: Optional[dict] = None,
                 cond_size: Optional[int] = None,
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
        if cond_size is not None and cond_size > 0:
            raise ValueError('conditional StyleGAN2 discriminators '
                             f'(cond_size={cond_size}) are not supported')
        known = {'cond_mapping_channels', 'cond_mapping_layers',
                 'num_fp16_scales', 'out_fp32', 'convert_input_fp32'}
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
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 16, ch[4], activate=True),
            EqualLinear(ch[4], 1))
        self.channels_last = channels_last
        if channels_last:
            to_channels_last_(self)
        if pretrained is not None:
            self.load_pretrained(pretrained['ckpt_path'],
                                 pretrained.get('prefix', ''))

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score images.

        Args:
            x (Tensor): (N, img_channels, H, W) images, (H, W) = in_shape,
                or in_size x in_size.

        Returns:
            Tensor: (N, 1) logits (real > fake), float32 (as MMagic's
            ``out_fp32``), float64 for a float64 model.
        """
        h, w = self.in_shape or (self.in_size, self.in_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.img_channels, h, w):
            raise ValueError(
                'GLEANDiscriminator expects (N, '
                f'{self.img_channels}, {h}, {w}) images, got '
                f'{tuple(x.shape)}')
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
        # float16 / bfloat16 logits to float32; a float64 model (e.g. for
        # gradgradcheck) keeps its precision
        return x if x.dtype == torch.float64 else x.float()
