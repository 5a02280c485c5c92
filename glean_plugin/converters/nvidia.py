"""NVIDIA's stylegan2-ada-pytorch layout (training/networks.py) -> MMagic's.

What differs besides the names:

- ``FullyConnectedLayer`` and ``Conv2dLayer`` store weights unscaled and
  apply ``weight_gain`` (``lr_multiplier / sqrt(fan_in)``) and ``bias_gain``
  (``lr_multiplier``) at run time, the mapping layers' weights initialised
  N(0, 1 / lr_multiplier): the same convention as MMagic's ``EqualLinear``,
  so weights copy unchanged when the learning-rate multipliers agree.
- Synthesis convs use the weight without ``weight_gain``: demodulation
  removes any scale, so MMagic's scaled ``weight_orig`` gives the same output.
  The to-RGB layer scales its styles by ``weight_gain`` where MMagic scales
  the (not demodulated) weight: the same product.
- Per-layer noise is ``noise_const`` (H, W) times the scalar
  ``noise_strength``; MMagic keeps the maps as ``injected_noise_i``
  (1, 1, H, W) buffers of the generator and the strength as
  ``noise_injector.weight`` (1,).
- Resampling filters are stored normalised (``resample_filter``, in every
  layer and block); the up/down gains are applied at run time. MMagic stores
  the upsampling ones times 4 and only where they are used.
- The discriminator's residual scale 1/sqrt(2) is a gain of ``conv1`` and
  ``skip`` in NVIDIA's code and a division after the sum in MMagic's.
"""
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from .layout import (CONV_KERNEL, DiscriminatorArch, GeneratorArch, Rename,
                     Transform, apply_plan, count_indexed, down_filter,
                     require, reshape_to, up_filter)

__all__ = ['GENERATOR_MARKERS', 'DISCRIMINATOR_MARKERS', 'convert_generator',
           'convert_discriminator', 'infer_generator', 'infer_discriminator']

NAME = "NVIDIA's stylegan2-ada-pytorch"
GENERATOR_MARKERS = ('synthesis.b4.const', 'mapping.fc0.weight')
DISCRIMINATOR_MARKERS = ('b4.fc.weight', 'b4.out.weight')
# 'skip' generators and 'resnet' discriminators are StyleGAN2 config-e/f
# (and stylegan2-ada's defaults); MMagic's StyleGAN2 is exactly those.
ARCH_HINT_G = ("MMagic's StyleGAN2 is the unconditional generator with "
               "architecture='skip', use_noise=True and z_dim == w_dim "
               "(stylegan2-ada's default)")
ARCH_HINT_D = ("MMagic's StyleGAN2 discriminator is the unconditional one "
               "with architecture='resnet' (stylegan2-ada's default)")


def _resolutions(state: Mapping[str, torch.Tensor], template: str,
                 start: int) -> List[int]:
    """Consecutive resolutions ``start``, 2 * ``start``, ... with a key."""
    res, found = start, []
    while template.format(res) in state:
        found.append(res)
        res *= 2
    return found


def infer_generator(state: Mapping[str, torch.Tensor]) -> dict:
    """Architecture found in a ``Generator`` state dict (``G_ema``).

    Returns:
        dict: ``size``, ``style_channels``, ``num_mlps``, ``img_channels``,
        ``table`` (resolution -> channels).
    """
    what = f'{NAME} generator'
    require(state, 'synthesis.b4.const', what)
    require(state, 'synthesis.b4.conv1.weight', what)
    num_mlps = count_indexed(state, 'mapping.fc{}.weight')
    last = require(state, f'mapping.fc{max(num_mlps - 1, 0)}.weight', what)
    resolutions = _resolutions(state, 'synthesis.b{}.conv1.weight', 4)
    table = {res: int(state[f'synthesis.b{res}.conv1.weight'].shape[0])
             for res in resolutions}
    rgb = require(state, f'synthesis.b{resolutions[-1]}.torgb.weight', what)
    return dict(size=resolutions[-1], style_channels=int(last.shape[0]),
                num_mlps=num_mlps, img_channels=int(rgb.shape[0]),
                table=table)


def infer_discriminator(state: Mapping[str, torch.Tensor]) -> dict:
    """Architecture found in a ``Discriminator`` state dict (``D``).

    Returns:
        dict: ``size``, ``img_channels``, ``mbstd_channels``, ``table``.
    """
    what = f'{NAME} discriminator'
    conv = require(state, 'b4.conv.weight', what)
    require(state, 'b8.conv0.weight', what)
    resolutions = _resolutions(state, 'b{}.conv0.weight', 8)
    size = resolutions[-1]
    table = {res: int(state[f'b{res}.conv0.weight'].shape[0])
             for res in resolutions}
    table[4] = int(conv.shape[0])
    fromrgb = require(state, f'b{size}.fromrgb.weight', what)
    return dict(size=size, img_channels=int(fromrgb.shape[1]),
                mbstd_channels=int(conv.shape[1]) - table[4], table=table)


def _affine(src: str, dst: str, in_ch: int, style: int) -> List[Rename]:
    return [
        Rename(f'{src}.affine.weight', (in_ch, style),
               f'{dst}.style_modulation.linear.weight_orig'),
        Rename(f'{src}.affine.bias', (in_ch, ),
               f'{dst}.style_modulation.bias'),
    ]


def _synthesis_layer(src: str, dst: str, in_ch: int, out_ch: int, res: int,
                     noise_index: int, style: int,
                     filter_shape: Tuple[int, ...], up: bool) -> List[Rename]:
    """``SynthesisLayer`` -> ``StyledConv`` (+ the generator's noise map)."""
    k = CONV_KERNEL
    plan = [
        Rename(f'{src}.weight', (out_ch, in_ch, k, k),
               f'{dst}.conv.weight_orig', reshape_to(1, out_ch, in_ch, k, k)),
        Rename(f'{src}.noise_strength', (), f'{dst}.noise_injector.weight',
               reshape_to(1)),
        Rename(f'{src}.noise_const', (res, res),
               f'injected_noise_{noise_index}', reshape_to(1, 1, res, res)),
        Rename(f'{src}.bias', (out_ch, ), f'{dst}.activate.bias'),
        Rename(f'{src}.resample_filter', filter_shape,
               f'{dst}.conv.blur.kernel' if up else None,
               up_filter if up else None),
    ]
    return plan + _affine(src, f'{dst}.conv', in_ch, style)


def _to_rgb(src: str, dst: str, in_ch: int,
            arch: GeneratorArch) -> List[Rename]:
    c = arch.img_channels
    return [
        Rename(f'{src}.weight', (c, in_ch, 1, 1), f'{dst}.conv.weight_orig',
               reshape_to(1, c, in_ch, 1, 1)),
        Rename(f'{src}.bias', (c, ), f'{dst}.bias', reshape_to(1, c, 1, 1)),
    ] + _affine(src, f'{dst}.conv', in_ch, arch.style_channels)


def generator_plan(arch: GeneratorArch, filter_shape: Tuple[int, ...],
                   mapping_fn: Optional[Transform]) -> List[Rename]:
    """Every key of NVIDIA's ``Generator`` and its MMagic key.

    ``mapping.w_avg`` is checked but not converted (MMagic's generator has
    no such buffer; the converter keeps it in the checkpoint's meta).
    """
    ch, w = arch.channels, arch.style_channels
    plan = []
    for i in range(arch.num_mlps):
        plan += [
            Rename(f'mapping.fc{i}.weight', (w, w),
                   f'style_mapping.{i + 1}.linear.weight_orig', mapping_fn),
            Rename(f'mapping.fc{i}.bias', (w, ), f'style_mapping.{i + 1}.bias',
                   mapping_fn),
        ]
    plan.append(Rename('mapping.w_avg', (w, ), required=False))
    b4 = 'synthesis.b4'
    plan += [
        Rename(f'{b4}.const', (ch[4], 4, 4), 'constant_input.input',
               reshape_to(1, ch[4], 4, 4)),
        Rename(f'{b4}.resample_filter', filter_shape),
    ]
    plan += _synthesis_layer(f'{b4}.conv1', 'conv1', ch[4], ch[4], 4, 0, w,
                             filter_shape, up=False)
    plan += _to_rgb(f'{b4}.torgb', 'to_rgb1', ch[4], arch)
    for i, res in enumerate(arch.resolutions[1:]):
        block = f'synthesis.b{res}'
        plan += _synthesis_layer(f'{block}.conv0', f'convs.{2 * i}',
                                 ch[res // 2], ch[res], res, 2 * i + 1, w,
                                 filter_shape, up=True)
        plan += _synthesis_layer(f'{block}.conv1', f'convs.{2 * i + 1}',
                                 ch[res], ch[res], res, 2 * i + 2, w,
                                 filter_shape, up=False)
        plan += _to_rgb(f'{block}.torgb', f'to_rgbs.{i}', ch[res], arch)
        plan.append(Rename(f'{block}.resample_filter', filter_shape,
                           f'to_rgbs.{i}.upsample.kernel', up_filter))
    return plan


def _conv2d_layer(src: str, dst_conv: str, dst_bias: Optional[str],
                  in_ch: int, out_ch: int, kernel: int,
                  filter_shape: Tuple[int, ...],
                  dst_filter: Optional[str] = None) -> List[Rename]:
    """``Conv2dLayer`` -> MMagic's ``EqualConv2d`` [+ bias of the act]."""
    plan = [
        Rename(f'{src}.weight', (out_ch, in_ch, kernel, kernel),
               f'{dst_conv}.conv.weight_orig'),
        Rename(f'{src}.resample_filter', filter_shape, dst_filter,
               down_filter if dst_filter else None),
    ]
    if dst_bias is not None:
        plan.append(Rename(f'{src}.bias', (out_ch, ), dst_bias))
    return plan


def discriminator_plan(arch: DiscriminatorArch,
                       filter_shape: Tuple[int, ...]) -> List[Rename]:
    """Every key of NVIDIA's ``Discriminator`` and its MMagic key."""
    ch, f = arch.channels, filter_shape
    top = f'b{arch.in_size}'
    plan = _conv2d_layer(f'{top}.fromrgb', 'convs.0.0', 'convs.0.1.bias',
                         arch.img_channels, ch[arch.in_size], 1, f)
    for j, res in enumerate(arch.block_resolutions, start=1):
        src, dst = f'b{res}', f'convs.{j}'
        in_ch, out_ch = ch[res], ch[res // 2]
        plan.append(Rename(f'{src}.resample_filter', f))
        plan += _conv2d_layer(f'{src}.conv0', f'{dst}.conv1.0',
                              f'{dst}.conv1.1.bias', in_ch, in_ch, 3, f)
        plan += _conv2d_layer(f'{src}.conv1', f'{dst}.conv2.1',
                              f'{dst}.conv2.2.bias', in_ch, out_ch, 3, f,
                              f'{dst}.conv2.0.kernel')
        plan += _conv2d_layer(f'{src}.skip', f'{dst}.skip.1', None, in_ch,
                              out_ch, 1, f, f'{dst}.skip.0.kernel')
    c4 = ch[4]
    plan += _conv2d_layer('b4.conv', 'final_conv.0', 'final_conv.1.bias',
                          c4 + arch.mbstd_channels, c4, 3, f)
    plan += [
        Rename('b4.fc.weight', (c4, c4 * 16),
               'final_linear.0.linear.weight_orig'),
        Rename('b4.fc.bias', (c4, ), 'final_linear.0.bias'),
        Rename('b4.out.weight', (1, c4), 'final_linear.1.linear.weight_orig'),
        Rename('b4.out.bias', (1, ), 'final_linear.1.bias'),
    ]
    return plan


def _filter_shape(state: Mapping[str, torch.Tensor], key: str
                  ) -> Tuple[int, ...]:
    return tuple(state[key].shape) if key in state else (4, 4)


def convert_generator(state: Mapping[str, torch.Tensor], arch: GeneratorArch,
                      mapping_fn: Optional[Transform] = None
                      ) -> Dict[str, torch.Tensor]:
    """NVIDIA ``Generator`` state dict -> ``StyleGAN2LatentBank``'s.

    Args:
        state (Mapping[str, Tensor]): e.g. the parameters and buffers of
            ``G_ema``.
        arch (GeneratorArch): its architecture.
        mapping_fn (callable, optional): applied to the mapping layers'
            weights and biases (learning-rate rescaling).

    Returns:
        dict[str, Tensor]: MMagic ``StyleGANv2Generator`` state dict.
    """
    shape = _filter_shape(state, 'synthesis.b4.resample_filter')
    return apply_plan(state, generator_plan(arch, shape, mapping_fn),
                      f'{NAME} generator (as {arch.describe()})',
                      ARCH_HINT_G)


def convert_discriminator(state: Mapping[str, torch.Tensor],
                          arch: DiscriminatorArch) -> Dict[str, torch.Tensor]:
    """NVIDIA ``Discriminator`` state dict -> ``GLEANDiscriminator``'s."""
    shape = _filter_shape(state, f'b{arch.in_size}.resample_filter')
    return apply_plan(state, discriminator_plan(arch, shape),
                      f'{NAME} discriminator (as {arch.describe()})',
                      ARCH_HINT_D)
