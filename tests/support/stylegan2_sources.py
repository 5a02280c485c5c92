"""Small StyleGAN2 checkpoints in rosinality's and NVIDIA's layouts, and
forward passes written from those layouts' definitions.

The state dicts are built from the documented key names and shapes of
rosinality's ``model.py`` (stylegan2-pytorch) and NVIDIA's
``training/networks.py`` (stylegan2-ada-pytorch), with random values. The
forwards follow each repository's code path in plain torch (rosinality's
fused modulated conv, NVIDIA's ``conv2d_resample`` padding arithmetic) and
use nothing from glean_plugin, so they check the converted checkpoints
independently.
"""
import contextlib
import math
import pickle
import sys
import types
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

SQRT2 = math.sqrt(2)
LRELU_SLOPE = 0.2
EPS = 1e-8
FIR_TAPS = (1., 3., 3., 1.)


def stylegan2_table(size: int, multiplier: int, cap: Optional[int]) -> dict:
    """StyleGAN2's channels (rosinality: 512 up to 32, then 16384*m/res;
    NVIDIA: min(channel_base / res, channel_max)), optionally capped."""
    table = {}
    res = 4
    while res <= size:
        ch = 512 if res <= 32 else 16384 * multiplier // res
        table[res] = ch if cap is None else min(ch, cap)
        res *= 2
    return table


def fir_taps_2d(gain: float = 1.) -> torch.Tensor:
    k = torch.tensor(FIR_TAPS)
    k = torch.outer(k, k)
    return k / k.sum() * gain


class _Random:
    """randn-based tensors, or shape-only tensors on the meta device."""

    def __init__(self, seed: int, device: str) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.device = device

    def __call__(self, *shape, std=1., mean=0.):
        if self.device == 'meta':
            return torch.empty(shape, device='meta')
        return torch.randn(shape, generator=self.gen) * std + mean

    def const(self, value: torch.Tensor) -> torch.Tensor:
        return value.to(self.device)


# --------------------------------------------------------------------------- #
# rosinality/stylegan2-pytorch: model.py
# --------------------------------------------------------------------------- #
def rosinality_generator_state(size, channels, style, n_mlp, lr_mlp=0.01,
                               seed=0, device='cpu'
                               ) -> Dict[str, torch.Tensor]:
    """``Generator(size, style, n_mlp).state_dict()``'s keys and shapes."""
    r = _Random(seed, device)
    sd = {}
    for i in range(1, n_mlp + 1):
        sd[f'style.{i}.weight'] = r(style, style) / lr_mlp
        sd[f'style.{i}.bias'] = r(style, std=0.1) / lr_mlp

    def styled(name, cin, cout, up):
        sd[f'{name}.conv.weight'] = r(1, cout, cin, 3, 3)
        sd[f'{name}.conv.modulation.weight'] = r(cin, style)
        sd[f'{name}.conv.modulation.bias'] = r(cin, std=0.1, mean=1.)
        if up:
            sd[f'{name}.conv.blur.kernel'] = r.const(fir_taps_2d(4.))
        sd[f'{name}.noise.weight'] = r(1, std=0.3)
        sd[f'{name}.activate.bias'] = r(cout, std=0.1)

    def to_rgb(name, cin, up):
        if up:
            sd[f'{name}.upsample.kernel'] = r.const(fir_taps_2d(4.))
        sd[f'{name}.conv.weight'] = r(1, 3, cin, 1, 1)
        sd[f'{name}.conv.modulation.weight'] = r(cin, style)
        sd[f'{name}.conv.modulation.bias'] = r(cin, std=0.1, mean=1.)
        sd[f'{name}.bias'] = r(1, 3, 1, 1, std=0.1)

    sd['input.input'] = r(1, channels[4], 4, 4)
    styled('conv1', channels[4], channels[4], False)
    to_rgb('to_rgb1', channels[4], False)
    resolutions = sorted(channels)
    for i, res in enumerate(resolutions[1:]):
        styled(f'convs.{2 * i}', channels[res // 2], channels[res], True)
        styled(f'convs.{2 * i + 1}', channels[res], channels[res], False)
        to_rgb(f'to_rgbs.{i}', channels[res], True)
    for i in range((len(resolutions) - 1) * 2 + 1):
        res = 2**((i + 5) // 2)
        sd[f'noises.noise_{i}'] = r(1, 1, res, res)
    return sd


def rosinality_discriminator_state(size, channels, seed=1,
                                   device='cpu') -> Dict[str, torch.Tensor]:
    """``Discriminator(size).state_dict()``'s keys and shapes."""
    r = _Random(seed, device)
    sd = {'convs.0.0.weight': r(channels[size], 3, 1, 1),
          'convs.0.1.bias': r(channels[size], std=0.1)}
    res, j = size, 1
    while res > 4:
        cin, cout = channels[res], channels[res // 2]
        p = f'convs.{j}'
        sd[f'{p}.conv1.0.weight'] = r(cin, cin, 3, 3)
        sd[f'{p}.conv1.1.bias'] = r(cin, std=0.1)
        sd[f'{p}.conv2.0.kernel'] = r.const(fir_taps_2d())
        sd[f'{p}.conv2.1.weight'] = r(cout, cin, 3, 3)
        sd[f'{p}.conv2.2.bias'] = r(cout, std=0.1)
        sd[f'{p}.skip.0.kernel'] = r.const(fir_taps_2d())
        sd[f'{p}.skip.1.weight'] = r(cout, cin, 1, 1)
        res, j = res // 2, j + 1
    c4 = channels[4]
    sd['final_conv.0.weight'] = r(c4, c4 + 1, 3, 3)
    sd['final_conv.1.bias'] = r(c4, std=0.1)
    sd['final_linear.0.weight'] = r(c4, c4 * 16)
    sd['final_linear.0.bias'] = r(c4, std=0.1)
    sd['final_linear.1.weight'] = r(1, c4)
    sd['final_linear.1.bias'] = r(1, std=0.1)
    return sd


def fir(x, kernel, up=1, down=1, pad=(0, 0)):
    """upfirdn2d spelled out: zero insertion, padding, true convolution
    (flipped kernel), subsampling; ``pad`` (before, after) on both axes."""
    n, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros(n, c, h * up, w * up)
        z[..., ::up, ::up] = x
        x = z
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    weight = kernel.flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, weight, groups=c)[..., ::down, ::down]


def lrelu(x, bias=None):
    """Fused leaky ReLU (rosinality) / bias_act 'lrelu' (NVIDIA)."""
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, LRELU_SLOPE) * SQRT2


def _ros_linear(x, weight, bias, lr_mul=1., activate=False):
    out = F.linear(x, weight * (lr_mul / math.sqrt(weight.shape[1])))
    return lrelu(out, bias * lr_mul) if activate else out + bias * lr_mul


def _ros_modconv(sd, p, x, style, demodulate=True, upsample=False):
    n, c_in, h, w = x.shape
    weight = sd[f'{p}.weight']
    _, c_out, _, k, _ = weight.shape
    s = _ros_linear(style, sd[f'{p}.modulation.weight'],
                    sd[f'{p}.modulation.bias']).view(n, 1, c_in, 1, 1)
    weight = weight / math.sqrt(c_in * k * k) * s
    if demodulate:
        demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + EPS)
        weight = weight * demod.view(n, c_out, 1, 1, 1)
    x = x.reshape(1, n * c_in, h, w)
    if upsample:
        weight = weight.transpose(1, 2).reshape(n * c_in, c_out, k, k)
        out = F.conv_transpose2d(x, weight, stride=2, groups=n)
        out = out.view(n, c_out, *out.shape[2:])
        kernel = sd[f'{p}.blur.kernel']
        p_ = (kernel.shape[0] - 2) - (k - 1)
        return fir(out, kernel, pad=((p_ + 1) // 2 + 1, p_ // 2 + 1))
    out = F.conv2d(x, weight.reshape(n * c_out, c_in, k, k), padding=k // 2,
                   groups=n)
    return out.view(n, c_out, h, w)


def _ros_styled(sd, p, x, style, noise, upsample=False):
    out = _ros_modconv(sd, f'{p}.conv', x, style, upsample=upsample)
    out = out + sd[f'{p}.noise.weight'] * noise
    return lrelu(out, sd[f'{p}.activate.bias'])


def _ros_to_rgb(sd, p, x, style, skip):
    out = _ros_modconv(sd, f'{p}.conv', x, style, demodulate=False)
    out = out + sd[f'{p}.bias']
    if skip is not None:
        kernel = sd[f'{p}.upsample.kernel']
        p_ = kernel.shape[0] - 2
        out = out + fir(skip, kernel, up=2, pad=((p_ + 1) // 2 + 1, p_ // 2))
    return out


def rosinality_mapping(sd, z, lr_mlp=0.01):
    """``Generator.style``: PixelNorm, then the EqualLinear + lrelu stack."""
    x = z * torch.rsqrt(torch.mean(z**2, dim=1, keepdim=True) + EPS)
    i = 1
    while f'style.{i}.weight' in sd:
        x = _ros_linear(x, sd[f'style.{i}.weight'], sd[f'style.{i}.bias'],
                        lr_mlp, activate=True)
        i += 1
    return x


def rosinality_synthesis(sd, latent):
    """``Generator.forward(input_is_latent=True, randomize_noise=False)``
    on per-layer latents (N, n_latent, style); returns the image."""
    noise = [sd[f'noises.noise_{i}'] for i in range(
        sum(1 for k in sd if k.startswith('noises.')))]
    out = sd['input.input'].repeat(latent.shape[0], 1, 1, 1)
    out = _ros_styled(sd, 'conv1', out, latent[:, 0], noise[0])
    skip = _ros_to_rgb(sd, 'to_rgb1', out, latent[:, 1], None)
    i, j = 1, 0
    while f'convs.{2 * j}.conv.weight' in sd:
        out = _ros_styled(sd, f'convs.{2 * j}', out, latent[:, i], noise[i],
                          upsample=True)
        out = _ros_styled(sd, f'convs.{2 * j + 1}', out, latent[:, i + 1],
                          noise[i + 1])
        skip = _ros_to_rgb(sd, f'to_rgbs.{j}', out, latent[:, i + 2], skip)
        i, j = i + 2, j + 1
    return skip


def _ros_conv_layer(sd, p, x, kernel_size, downsample=False, activate=True):
    idx, stride, padding = 0, 1, kernel_size // 2
    if downsample:
        kernel = sd[f'{p}.0.kernel']
        p_ = (kernel.shape[0] - 2) + (kernel_size - 1)
        x = fir(x, kernel, pad=((p_ + 1) // 2, p_ // 2))
        idx, stride, padding = 1, 2, 0
    weight = sd[f'{p}.{idx}.weight']
    x = F.conv2d(x, weight / math.sqrt(weight[0].numel()), stride=stride,
                 padding=padding)
    return lrelu(x, sd[f'{p}.{idx + 1}.bias']) if activate else x


def rosinality_discriminator(sd, img, mbstd_group=4):
    """``Discriminator.forward``: logits (N, 1)."""
    out = _ros_conv_layer(sd, 'convs.0', img, 1)
    j = 1
    while f'convs.{j}.conv1.0.weight' in sd:
        p = f'convs.{j}'
        y = _ros_conv_layer(sd, f'{p}.conv1', out, 3)
        y = _ros_conv_layer(sd, f'{p}.conv2', y, 3, downsample=True)
        s = _ros_conv_layer(sd, f'{p}.skip', out, 1, downsample=True,
                            activate=False)
        out = (y + s) / SQRT2
        j += 1
    n, c, h, w = out.shape
    group = min(n, mbstd_group)
    std = out.view(group, -1, 1, c, h, w)
    std = torch.sqrt(std.var(0, unbiased=False) + EPS)
    std = std.mean([2, 3, 4], keepdim=True).squeeze(2).repeat(group, 1, h, w)
    out = _ros_conv_layer(sd, 'final_conv', torch.cat([out, std], 1), 3)
    out = _ros_linear(out.view(n, -1), sd['final_linear.0.weight'],
                      sd['final_linear.0.bias'], activate=True)
    return _ros_linear(out, sd['final_linear.1.weight'],
                       sd['final_linear.1.bias'])


# --------------------------------------------------------------------------- #
# NVlabs/stylegan2-ada-pytorch: training/networks.py
# --------------------------------------------------------------------------- #
def nvidia_generator_state(size, channels, style, num_mlps, lr_mlp=0.01,
                           seed=2, device='cpu') -> Dict[str, torch.Tensor]:
    """``Generator(z_dim=w_dim=style, c_dim=0, img_resolution=size,
    img_channels=3).state_dict()``'s keys and shapes."""
    r = _Random(seed, device)
    sd = {}
    for i in range(num_mlps):
        sd[f'mapping.fc{i}.weight'] = r(style, style) / lr_mlp
        sd[f'mapping.fc{i}.bias'] = r(style, std=0.1) / lr_mlp
    sd['mapping.w_avg'] = r(style)

    def layer(p, cin, cout, res):
        sd[f'{p}.resample_filter'] = r.const(fir_taps_2d())
        sd[f'{p}.affine.weight'] = r(cin, style)
        sd[f'{p}.affine.bias'] = r(cin, std=0.1, mean=1.)
        sd[f'{p}.weight'] = r(cout, cin, 3, 3)
        sd[f'{p}.noise_const'] = r(res, res)
        sd[f'{p}.noise_strength'] = r(std=0.3)
        sd[f'{p}.bias'] = r(cout, std=0.1)

    def torgb(p, cin):
        sd[f'{p}.affine.weight'] = r(cin, style)
        sd[f'{p}.affine.bias'] = r(cin, std=0.1, mean=1.)
        sd[f'{p}.weight'] = r(3, cin, 1, 1)
        sd[f'{p}.bias'] = r(3, std=0.1)

    for res in sorted(channels):
        b = f'synthesis.b{res}'
        sd[f'{b}.resample_filter'] = r.const(fir_taps_2d())
        if res == 4:
            sd[f'{b}.const'] = r(channels[4], 4, 4)
        else:
            layer(f'{b}.conv0', channels[res // 2], channels[res], res)
        layer(f'{b}.conv1', channels[res], channels[res], res)
        torgb(f'{b}.torgb', channels[res])
    return sd


def nvidia_discriminator_state(size, channels, seed=3,
                               device='cpu') -> Dict[str, torch.Tensor]:
    """``Discriminator(c_dim=0, img_resolution=size, img_channels=3)
    .state_dict()``'s keys and shapes (architecture='resnet')."""
    r = _Random(seed, device)
    sd = {}

    def conv(p, cin, cout, k, bias=True):
        sd[f'{p}.weight'] = r(cout, cin, k, k)
        if bias:
            sd[f'{p}.bias'] = r(cout, std=0.1)
        sd[f'{p}.resample_filter'] = r.const(fir_taps_2d())

    res = size
    while res > 4:
        b = f'b{res}'
        sd[f'{b}.resample_filter'] = r.const(fir_taps_2d())
        if res == size:
            conv(f'{b}.fromrgb', 3, channels[res], 1)
        conv(f'{b}.conv0', channels[res], channels[res], 3)
        conv(f'{b}.conv1', channels[res], channels[res // 2], 3)
        conv(f'{b}.skip', channels[res], channels[res // 2], 1, bias=False)
        res //= 2
    c4 = channels[4]
    conv('b4.conv', c4 + 1, c4, 3)
    sd['b4.fc.weight'] = r(c4, c4 * 16)
    sd['b4.fc.bias'] = r(c4, std=0.1)
    sd['b4.out.weight'] = r(1, c4)
    sd['b4.out.bias'] = r(1, std=0.1)
    return sd


def _nv_fc(sd, p, x, lr=1., act=False):
    """FullyConnectedLayer: weight_gain = lr / sqrt(in), bias_gain = lr."""
    weight, bias = sd[f'{p}.weight'], sd[f'{p}.bias']
    x = x.matmul((weight * (lr / math.sqrt(weight.shape[1]))).t())
    return lrelu(x, bias * lr) if act else x + bias * lr


def _conv2d_resample(x, w, f, up=1, down=1, padding=0, groups=1):
    """torch_utils.ops.conv2d_resample for the cases StyleGAN2 uses."""
    out_ch, in_ch, kh, kw = w.shape
    fw = f.shape[-1]
    px0 = px1 = padding
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
    if kw == 1 and down > 1 and up == 1:  # 1x1: downsample, then convolve
        return F.conv2d(fir(x, f, down=down, pad=(px0, px1)), w,
                        groups=groups)
    if down > 1 and up == 1:
        return F.conv2d(fir(x, f, pad=(px0, px1)), w, stride=down,
                        groups=groups)
    if up > 1:  # transposed conv, then the filter with gain up**2
        w = w.reshape(groups, out_ch // groups, in_ch, kh, kw).transpose(1, 2)
        w = w.reshape(groups * in_ch, out_ch // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        pxt = max(min(-px0, -px1), 0)
        x = F.conv_transpose2d(x, w, stride=up, padding=pxt, groups=groups)
        return fir(x, f * up**2, pad=(px0 + pxt, px1 + pxt))
    return F.conv2d(x, w, padding=px0, groups=groups)


def _nv_modconv(x, weight, styles, noise=None, up=1, padding=0, f=None,
                demodulate=True):
    """networks.modulated_conv2d, fused_modconv=True."""
    n = x.shape[0]
    _, in_ch, kh, kw = weight.shape
    w = weight[None] * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum([2, 3, 4]) + EPS).rsqrt().reshape(
            n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    x = _conv2d_resample(x, w.reshape(-1, in_ch, kh, kw),
                         f if f is not None else torch.ones(1, 1), up=up,
                         padding=padding, groups=n)
    x = x.reshape(n, -1, *x.shape[2:])
    return x + noise if noise is not None else x


def nvidia_mapping(sd, z, lr_mlp=0.01):
    """MappingNetwork without broadcast: normalize_2nd_moment, fc layers."""
    x = z * (z.square().mean(dim=1, keepdim=True) + EPS).rsqrt()
    i = 0
    while f'mapping.fc{i}.weight' in sd:
        x = _nv_fc(sd, f'mapping.fc{i}', x, lr_mlp, act=True)
        i += 1
    return x


def _nv_layer(sd, p, x, w, up=1):
    styles = _nv_fc(sd, f'{p}.affine', w)
    noise = sd[f'{p}.noise_const'] * sd[f'{p}.noise_strength']
    x = _nv_modconv(x, sd[f'{p}.weight'], styles, noise, up=up, padding=1,
                    f=sd[f'{p}.resample_filter'])
    return lrelu(x, sd[f'{p}.bias'])


def _nv_torgb(sd, p, x, w):
    weight = sd[f'{p}.weight']
    styles = _nv_fc(sd, f'{p}.affine', w) / math.sqrt(weight[0].numel())
    x = _nv_modconv(x, weight, styles, demodulate=False)
    return x + sd[f'{p}.bias'].view(1, -1, 1, 1)


def nvidia_synthesis(sd, ws):
    """SynthesisNetwork.forward(ws, noise_mode='const'): the image."""
    x = img = None
    res, w_idx = 4, 0
    while f'synthesis.b{res}.conv1.weight' in sd:
        b = f'synthesis.b{res}'
        if res == 4:
            x = sd[f'{b}.const'][None].repeat(ws.shape[0], 1, 1, 1)
            x = _nv_layer(sd, f'{b}.conv1', x, ws[:, w_idx])
            w_rgb = ws[:, w_idx + 1]
            w_idx += 1
        else:
            x = _nv_layer(sd, f'{b}.conv0', x, ws[:, w_idx], up=2)
            x = _nv_layer(sd, f'{b}.conv1', x, ws[:, w_idx + 1])
            w_rgb = ws[:, w_idx + 2]
            w_idx += 2
        if img is not None:  # upfirdn2d.upsample2d
            f = sd[f'{b}.resample_filter']
            fw = f.shape[-1]
            img = fir(img, f * 4, up=2, pad=((fw + 1) // 2, (fw - 2) // 2))
        y = _nv_torgb(sd, f'{b}.torgb', x, w_rgb)
        img = img + y if img is not None else y
        res *= 2
    return img


def _nv_conv_layer(sd, p, x, act=True, down=1, gain=1.):
    """Conv2dLayer.forward(x, gain)."""
    w = sd[f'{p}.weight']
    w = w / math.sqrt(w[0].numel())
    x = _conv2d_resample(x, w, sd[f'{p}.resample_filter'], down=down,
                         padding=w.shape[-1] // 2)
    if f'{p}.bias' in sd:
        x = x + sd[f'{p}.bias'].view(1, -1, 1, 1)
    return (F.leaky_relu(x, LRELU_SLOPE) * SQRT2 if act else x) * gain


def nvidia_discriminator(sd, img, mbstd_group=4):
    """Discriminator.forward(img, c=None): logits (N, 1)."""
    res = max(int(k.split('.')[0][1:]) for k in sd if '.conv0.' in k)
    x = _nv_conv_layer(sd, f'b{res}.fromrgb', img)
    while res > 4:
        b = f'b{res}'
        y = _nv_conv_layer(sd, f'{b}.skip', x, act=False, down=2,
                           gain=math.sqrt(0.5))
        x = _nv_conv_layer(sd, f'{b}.conv0', x)
        x = _nv_conv_layer(sd, f'{b}.conv1', x, down=2, gain=math.sqrt(0.5))
        x = y + x
        res //= 2
    n, c, h, w = x.shape  # MinibatchStdLayer(mbstd_group, num_channels=1)
    g = min(mbstd_group, n)
    y = x.reshape(g, -1, 1, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0)
    y = (y + EPS).sqrt().mean(dim=[2, 3, 4]).reshape(-1, 1, 1, 1)
    x = torch.cat([x, y.repeat(g, 1, h, w)], dim=1)
    x = _nv_conv_layer(sd, 'b4.conv', x)
    x = _nv_fc(sd, 'b4.fc', x.flatten(1), act=True)
    return _nv_fc(sd, 'b4.out', x)


# --------------------------------------------------------------------------- #
# NVIDIA network pickles
# --------------------------------------------------------------------------- #
# torch_utils.persistence's version of the pickled metadata.
PERSISTENCE_VERSION = 6
_FAKE_MODULES = ('torch_utils', 'torch_utils.persistence', 'dnnlib',
                 'dnnlib.util')
BUFFER_NAMES = ('resample_filter', 'noise_const', 'w_avg')


@contextlib.contextmanager
def fake_nvidia_packages():
    """``torch_utils.persistence`` and ``dnnlib.util`` as importable names
    while a pickle is written (removed afterwards, so that reading it must
    do without them). Yields (reconstruct function, EasyDict class)."""
    persistence = types.ModuleType('torch_utils.persistence')
    util = types.ModuleType('dnnlib.util')

    def _reconstruct_persistent_obj(meta):
        raise AssertionError('only used by name when pickling')

    class EasyDict(dict):
        pass

    _reconstruct_persistent_obj.__module__ = 'torch_utils.persistence'
    _reconstruct_persistent_obj.__qualname__ = '_reconstruct_persistent_obj'
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    EasyDict.__module__, EasyDict.__qualname__ = 'dnnlib.util', 'EasyDict'
    util.EasyDict = EasyDict
    modules = dict(zip(_FAKE_MODULES, (types.ModuleType('torch_utils'),
                                       persistence, types.ModuleType('dnnlib'),
                                       util)))
    saved = {name: sys.modules.get(name) for name in _FAKE_MODULES}
    sys.modules.update(modules)
    try:
        yield _reconstruct_persistent_obj, EasyDict
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class PersistentModule(nn.Module):
    """A module that pickles as ``persistence.persistent_class`` objects do:
    a call of ``_reconstruct_persistent_obj(meta)`` with the class name, the
    module source and the ``__dict__`` as state."""

    reconstruct = None  # set while pickling

    def __init__(self, class_name: str, **attrs) -> None:
        super().__init__()
        self.class_name_ = class_name
        for name, value in attrs.items():
            setattr(self, name, value)

    def __reduce__(self):
        fields = list(super().__reduce__())
        fields += [None] * max(3 - len(fields), 0)
        state = dict(fields[2])
        class_name = state.pop('class_name_')
        meta = dict(type='class', version=PERSISTENCE_VERSION,
                    module_src='# training/networks.py source',
                    class_name=class_name, state=state)
        return (type(self).reconstruct, (meta, ))


def persistent_tree(class_name: str, state: Dict[str, torch.Tensor],
                    attrs: Dict[str, dict]) -> PersistentModule:
    """PersistentModules holding ``state`` (parameters; ``BUFFER_NAMES`` as
    buffers), with ``attrs[path]`` set on the module at ``path`` (created if
    it has no tensors, e.g. the minibatch-stddev layer)."""
    root = PersistentModule(class_name, **attrs.get('', {}))

    def node_at(path):
        node = root
        for depth, part in enumerate(path):
            if part not in node._modules:
                node.add_module(part, PersistentModule(
                    'Layer', **attrs.get('.'.join(path[:depth + 1]), {})))
            node = node._modules[part]
        return node

    for key, value in state.items():
        *path, leaf = key.split('.')
        node = node_at(path)
        if leaf in BUFFER_NAMES:
            node.register_buffer(leaf, value.clone())
        else:
            node.register_parameter(leaf, nn.Parameter(value.clone()))
    for path in attrs:
        if path:
            node_at(path.split('.'))
    return root


def write_nvidia_pickle(path, g_state, d_state, g_attrs, d_attrs) -> None:
    """A ``network-snapshot-*.pkl`` as stylegan2-ada-pytorch writes it:
    ``pickle.dump(dict(G, D, G_ema, augment_pipe, training_set_kwargs))``
    of persistent objects and EasyDicts."""
    with fake_nvidia_packages() as (reconstruct, easy_dict):
        PersistentModule.reconstruct = reconstruct
        try:
            nets = {}
            for name, state, attrs, cls in (
                    ('G', g_state, g_attrs, 'Generator'),
                    ('G_ema', g_state, g_attrs, 'Generator'),
                    ('D', d_state, d_attrs, 'Discriminator')):
                nets[name] = persistent_tree(cls, state, attrs)
                nets[name]._init_kwargs = easy_dict(
                    c_dim=0, mapping_kwargs=easy_dict(num_layers=2))
            data = dict(nets, augment_pipe=PersistentModule('AugmentPipe',
                                                            xflip=1.),
                        training_set_kwargs=easy_dict(path='cats.zip'))
            with open(path, 'wb') as f:
                pickle.dump(data, f)
        finally:
            PersistentModule.reconstruct = None
