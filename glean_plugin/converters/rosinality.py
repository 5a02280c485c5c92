"""rosinality's stylegan2-pytorch layout (``model.py``) -> MMagic's.

MMagic's StyleGAN2 is a port of rosinality's: same modules, same order, same
equalized-learning-rate convention (weights stored unscaled, the mapping
layers' divided by ``lr_mul``; FIR kernels stored with the upsampling gain).
The conversion is a renaming:

================================  =========================================
rosinality                        MMagic
================================  =========================================
``style.i.weight`` / ``.bias``    ``style_mapping.i.linear.weight_orig`` /
                                  ``style_mapping.i.bias``
``input.input``                   ``constant_input.input``
``*.conv.weight``                 ``*.conv.weight_orig`` (1, O, I, K, K)
``*.conv.modulation.*``           ``*.conv.style_modulation.{linear.
                                  weight_orig, bias}``
``*.noise.weight``                ``*.noise_injector.weight``
``noises.noise_i``                ``injected_noise_i``
``convs.j.*.weight`` (D)          ``convs.j.*.conv.weight_orig``
``final_linear.k.weight`` (D)     ``final_linear.k.linear.weight_orig``
================================  =========================================

Biases of the fused leaky ReLUs (``activate.bias``, ``convs.j.1.bias``), the
to-RGB biases and the FIR kernels keep their keys.
"""
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from .layout import (CONV_KERNEL, DiscriminatorArch, GeneratorArch, Rename,
                     Transform, apply_plan, count_indexed, require)

__all__ = ['GENERATOR_MARKERS', 'DISCRIMINATOR_MARKERS', 'convert_generator',
           'convert_discriminator', 'infer_generator', 'infer_discriminator']

NAME = "rosinality's stylegan2-pytorch"
# Keys that identify the layout.
GENERATOR_MARKERS = ('input.input', 'style.1.weight', 'conv1.conv.weight')
DISCRIMINATOR_MARKERS = ('convs.0.0.weight', 'final_linear.0.weight')


def infer_generator(state: Mapping[str, torch.Tensor]) -> dict:
    """Architecture found in a generator state dict (``g_ema``).

    Returns:
        dict: ``size``, ``style_channels``, ``num_mlps``, ``img_channels``
        and ``table`` (resolution -> channels).
    """
    what = f'{NAME} generator'
    style = require(state, 'style.1.weight', what)
    n_up = count_indexed(state, 'to_rgbs.{}.conv.weight')
    table = {4: int(require(state, 'input.input', what).shape[1])}
    for i in range(n_up):
        weight = require(state, f'convs.{2 * i}.conv.weight', what)
        table[2**(i + 3)] = int(weight.shape[1])
    rgb = require(state, 'to_rgb1.conv.weight', what)
    return dict(size=2**(n_up + 2), style_channels=int(style.shape[1]),
                num_mlps=count_indexed(state, 'style.{}.weight', start=1),
                img_channels=int(rgb.shape[1]), table=table)


def infer_discriminator(state: Mapping[str, torch.Tensor]) -> dict:
    """Architecture found in a discriminator state dict (``d``).

    Returns:
        dict: ``size``, ``img_channels``, ``mbstd_channels`` and ``table``.
    """
    what = f'{NAME} discriminator'
    first = require(state, 'convs.0.0.weight', what)
    n_blocks = count_indexed(state, 'convs.{}.conv1.0.weight', start=1)
    size = 2**(n_blocks + 2)
    table = {size: int(first.shape[0])}
    for j in range(1, n_blocks + 1):
        weight = require(state, f'convs.{j}.conv2.1.weight', what)
        table[size >> j] = int(weight.shape[0])
    final = require(state, 'final_conv.0.weight', what)
    return dict(size=size, img_channels=int(first.shape[1]),
                mbstd_channels=int(final.shape[1]) - table[4], table=table)


def _modulated(src: str, dst: str, in_ch: int, out_ch: int, kernel: int,
               style: int) -> List[Rename]:
    return [
        Rename(f'{src}.weight', (1, out_ch, in_ch, kernel, kernel),
               f'{dst}.weight_orig'),
        Rename(f'{src}.modulation.weight', (in_ch, style),
               f'{dst}.style_modulation.linear.weight_orig'),
        Rename(f'{src}.modulation.bias', (in_ch, ),
               f'{dst}.style_modulation.bias'),
    ]


def _styled_conv(name: str, in_ch: int, out_ch: int, style: int,
                 up_filter: Optional[Tuple[int, ...]]) -> List[Rename]:
    plan = _modulated(f'{name}.conv', f'{name}.conv', in_ch, out_ch,
                      CONV_KERNEL, style)
    plan += [
        Rename(f'{name}.noise.weight', (1, ), f'{name}.noise_injector.weight'),
        Rename(f'{name}.activate.bias', (out_ch, ), f'{name}.activate.bias'),
    ]
    if up_filter is not None:
        plan.append(Rename(f'{name}.conv.blur.kernel', up_filter,
                           f'{name}.conv.blur.kernel'))
    return plan


def _to_rgb(name: str, in_ch: int, arch: GeneratorArch,
            up_filter: Optional[Tuple[int, ...]]) -> List[Rename]:
    plan = _modulated(f'{name}.conv', f'{name}.conv', in_ch,
                      arch.img_channels, 1, arch.style_channels)
    plan.append(Rename(f'{name}.bias', (1, arch.img_channels, 1, 1),
                       f'{name}.bias'))
    if up_filter is not None:
        plan.append(Rename(f'{name}.upsample.kernel', up_filter,
                           f'{name}.upsample.kernel'))
    return plan


def generator_plan(arch: GeneratorArch, filter_shape: Tuple[int, ...],
                   mapping_fn: Optional[Transform]) -> List[Rename]:
    """Every key of rosinality's ``Generator`` and its MMagic key."""
    ch, w = arch.channels, arch.style_channels
    plan = []
    for i in range(1, arch.num_mlps + 1):
        plan += [
            Rename(f'style.{i}.weight', (w, w),
                   f'style_mapping.{i}.linear.weight_orig', mapping_fn),
            Rename(f'style.{i}.bias', (w, ), f'style_mapping.{i}.bias',
                   mapping_fn),
        ]
    plan.append(Rename('input.input', (1, ch[4], 4, 4),
                       'constant_input.input'))
    plan += _styled_conv('conv1', ch[4], ch[4], w, None)
    plan += _to_rgb('to_rgb1', ch[4], arch, None)
    in_ch = ch[4]
    for i, res in enumerate(arch.resolutions[1:]):
        plan += _styled_conv(f'convs.{2 * i}', in_ch, ch[res], w,
                             filter_shape)
        plan += _styled_conv(f'convs.{2 * i + 1}', ch[res], ch[res], w, None)
        plan += _to_rgb(f'to_rgbs.{i}', ch[res], arch, filter_shape)
        in_ch = ch[res]
    # noise i is at resolution 2**((i + 5) // 2): conv1, then two per block
    for i in range(2 * len(arch.resolutions) - 1):
        size = 2**((i + 5) // 2)
        plan.append(Rename(f'noises.noise_{i}', (1, 1, size, size),
                           f'injected_noise_{i}'))
    return plan


def _conv_layer(name: str, in_ch: int, out_ch: int, kernel: int,
                down_filter: Optional[Tuple[int, ...]],
                activate: bool = True) -> List[Rename]:
    """rosinality's ``ConvLayer``: [Blur,] EqualConv2d (no bias)[, act]."""
    plan, i = [], 0
    if down_filter is not None:
        plan.append(Rename(f'{name}.0.kernel', down_filter,
                           f'{name}.0.kernel'))
        i = 1
    plan.append(Rename(f'{name}.{i}.weight', (out_ch, in_ch, kernel, kernel),
                       f'{name}.{i}.conv.weight_orig'))
    if activate:
        plan.append(Rename(f'{name}.{i + 1}.bias', (out_ch, ),
                           f'{name}.{i + 1}.bias'))
    return plan


def discriminator_plan(arch: DiscriminatorArch,
                       filter_shape: Tuple[int, ...]) -> List[Rename]:
    """Every key of rosinality's ``Discriminator`` and its MMagic key."""
    ch = arch.channels
    plan = _conv_layer('convs.0', arch.img_channels, ch[arch.in_size], 1,
                       None)
    for j, res in enumerate(arch.block_resolutions, start=1):
        in_ch, out_ch = ch[res], ch[res // 2]
        plan += _conv_layer(f'convs.{j}.conv1', in_ch, in_ch, 3, None)
        plan += _conv_layer(f'convs.{j}.conv2', in_ch, out_ch, 3,
                            filter_shape)
        plan += _conv_layer(f'convs.{j}.skip', in_ch, out_ch, 1,
                            filter_shape, activate=False)
    c4 = ch[4]
    plan += _conv_layer('final_conv', c4 + arch.mbstd_channels, c4, 3, None)
    plan += [
        Rename('final_linear.0.weight', (c4, c4 * 16),
               'final_linear.0.linear.weight_orig'),
        Rename('final_linear.0.bias', (c4, ), 'final_linear.0.bias'),
        Rename('final_linear.1.weight', (1, c4),
               'final_linear.1.linear.weight_orig'),
        Rename('final_linear.1.bias', (1, ), 'final_linear.1.bias'),
    ]
    return plan


def _filter_shape(state: Mapping[str, torch.Tensor], key: str,
                  default: int) -> Tuple[int, ...]:
    return tuple(state[key].shape) if key in state else (default, default)


def convert_generator(state: Mapping[str, torch.Tensor], arch: GeneratorArch,
                      mapping_fn: Optional[Transform] = None
                      ) -> Dict[str, torch.Tensor]:
    """rosinality ``Generator`` state dict -> ``StyleGAN2LatentBank``'s.

    Args:
        state (Mapping[str, Tensor]): e.g. ``ckpt['g_ema']``.
        arch (GeneratorArch): its architecture.
        mapping_fn (callable, optional): applied to the mapping layers'
            weights and biases (learning-rate rescaling).

    Returns:
        dict[str, Tensor]: MMagic ``StyleGANv2Generator`` state dict.
    """
    shape = _filter_shape(state, 'convs.0.conv.blur.kernel', 4)
    return apply_plan(state, generator_plan(arch, shape, mapping_fn),
                      f'{NAME} generator (as {arch.describe()})')


def convert_discriminator(state: Mapping[str, torch.Tensor],
                          arch: DiscriminatorArch) -> Dict[str, torch.Tensor]:
    """rosinality ``Discriminator`` state dict -> ``GLEANDiscriminator``'s."""
    shape = _filter_shape(state, 'convs.1.conv2.0.kernel', 4)
    return apply_plan(state, discriminator_plan(arch, shape),
                      f'{NAME} discriminator (as {arch.describe()})')
