"""Double backward through the StyleGAN2 layers, against MMagic's.

StyleGAN2 training differentiates gradients: the R1 penalty differentiates
D's input gradient, the path-length regulariser G's output gradient w.r.t.
the latents. Every parameter that gets a second-order gradient in MMagic's
modules must get the same one here, and the whole discriminator's second
derivatives must pass ``gradgradcheck`` in float64.
"""
import math

import mmagic.models  # noqa: F401  (after glean_plugin: needs the mmcv shim)
import pytest
import torch
import torch.nn as nn
from mmagic.models.editors.stylegan2.stylegan2_modules import (
    ModulatedStyleConv, ModulatedToRGB)
from mmagic.registry import MODELS

from glean_plugin.models import GLEANDiscriminator
from glean_plugin.models.layers import StyledConv, ToRGB
from tests.support.helpers import assert_rel_close, randomize_state_dict

SIZE = 16
STYLE = 8
# float32 R1 parameter gradients, ours vs MMagic's (16x16 discriminator,
# batch 2, 8 random weight sets, both layouts). Convolution and linear
# weights: up to 6.4e-4 (MMagic's own float32 gradients are within 1.8e-5
# of our float64 run, ours within 6.4e-4: channels_last convolutions round
# differently). Biases reach R1 only through the minibatch-stddev layer
# (elsewhere the leaky ReLU's second derivative is zero); their gradients
# are 1e3 times smaller and ill-conditioned: up to 4.5e-2 apart, where
# MMagic's own float32 gradient is 4.4e-2 off the float64 one. A missing or
# detached second-order path is off by O(1).
R1_WEIGHT_TOL = 5e-3
R1_BIAS_TOL = 1e-1


def r1_parameter_grads(disc: nn.Module, x: torch.Tensor) -> dict:
    """R1 = sum(d D(x).sum() / dx ** 2); its gradient for every parameter.

    Args:
        disc (nn.Module): discriminator.
        x (Tensor): (N, C, H, W) real images.

    Returns:
        dict: parameter name -> gradient (None where R1 does not depend on
        the parameter).
    """
    x = x.detach().clone().requires_grad_()
    grad, = torch.autograd.grad(disc(x).sum(), x, create_graph=True)
    params = dict(disc.named_parameters())
    grads = torch.autograd.grad(grad.square().sum(), list(params.values()),
                                allow_unused=True)
    return dict(zip(params, grads))


def _is_zero(grad) -> bool:
    return grad is None or not grad.abs().max() > 0


@pytest.fixture(scope='module')
def mmagic_r1():
    """MMagic's 16x16 discriminator on randomised weights, real images and
    its float32 R1 parameter gradients."""
    torch.manual_seed(0)
    ref = MODELS.build(dict(type='StyleGANv2Discriminator', in_size=SIZE,
                            channel_multiplier=1))
    state = randomize_state_dict(ref.state_dict())
    ref.load_state_dict(state)
    x = torch.randn(2, 3, SIZE, SIZE)
    return state, x, r1_parameter_grads(ref, x)


@pytest.mark.parametrize('channels_last', [True, False])
def test_r1_parameter_gradients_match_mmagic(mmagic_r1, channels_last):
    state, x, want = mmagic_r1
    ours = GLEANDiscriminator(SIZE, channel_multiplier=1,
                              channels_last=channels_last)
    ours.load_state_dict(state, strict=True)
    got = r1_parameter_grads(ours, x)
    assert got.keys() == want.keys()
    reached = [k for k, g in want.items() if not _is_zero(g)]
    # every conv / linear weight, and the biases before the minibatch stddev
    assert len(reached) == 15, reached
    for key in want:
        if key not in reached:
            assert _is_zero(got[key]), f'{key}: MMagic has no R1 gradient'
            continue
        assert got[key] is not None, f'{key}: no R1 gradient'
        tol = R1_BIAS_TOL if key.endswith('bias') else R1_WEIGHT_TOL
        assert_rel_close(got[key], want[key], tol, f'R1 gradient of {key}')


@pytest.mark.slow
@pytest.mark.parametrize('channels_last', [True, False])
def test_discriminator_gradgradcheck(channels_last, device):
    """Second derivatives of a tiny discriminator w.r.t. its input and every
    parameter, analytic vs numerical, float64."""
    disc = GLEANDiscriminator(8, channel_multiplier=1, max_channels=2,
                              channels_last=channels_last).double()
    disc.load_state_dict(randomize_state_dict(disc.state_dict()))
    disc.to(device)
    names, params = zip(*disc.named_parameters())
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, device=device,
                    requires_grad=True)

    def score(x, *params):
        return torch.func.functional_call(disc, dict(zip(names, params)),
                                          (x, ))

    inputs = (x, ) + tuple(p.detach().requires_grad_() for p in params)
    assert torch.autograd.gradgradcheck(score, inputs)


# --------------------------------------------------------------------------- #
# path-length regularisation through the synthesis layers
# --------------------------------------------------------------------------- #
class _Synthesis(nn.Module):
    """4x4 features -> styled conv (up) -> styled conv -> RGB with the 4x4
    RGB skip upsampled: every synthesis layer kind, in MMagic's key layout.
    """

    def __init__(self, ours: bool, channels: int = 4) -> None:
        super().__init__()
        conv = StyledConv if ours else ModulatedStyleConv
        to_rgb = ToRGB if ours else ModulatedToRGB
        self.conv_up = conv(channels, channels, 3, STYLE, upsample=True)
        self.conv = conv(channels, channels, 3, STYLE)
        self.to_rgb1 = to_rgb(channels, STYLE, upsample=False)
        self.to_rgb = to_rgb(channels, STYLE)

    def forward(self, x, w, noises):
        skip = self.to_rgb1(x, w)
        x = self.conv(self.conv_up(x, w, noises[0]), w, noises[1])
        return self.to_rgb(x, w, skip)


# float32 path-length gradients, ours vs MMagic's, over 8 random weight
# sets: up to 6.8e-5 (the first noise weight; the others 5e-6), where
# MMagic's own are up to 4.0e-5 off our float64 run, ours 2.8e-5.
PATH_LENGTH_TOL = 1e-3


def path_length_grads(model: nn.Module, x, w, noises, img_noise) -> dict:
    """Path-length penalty (|J_w^T y| - a)^2 and its parameter gradients.

    Args:
        model (nn.Module): ``_Synthesis``.
        x (Tensor): (N, C, 4, 4) input features.
        w (Tensor): (N, STYLE) latents.
        noises (tuple[Tensor]): (N, 1, 8, 8) noise of each styled conv.
        img_noise (Tensor): (N, 3, 8, 8) random image-space direction y.

    Returns:
        dict: parameter name -> gradient, and 'w' -> the latents' gradient.
    """
    w = w.detach().clone().requires_grad_()
    img = model(x, w, noises)
    grad, = torch.autograd.grad((img * img_noise).sum(), w, create_graph=True)
    lengths = grad.square().sum(dim=1).sqrt()
    penalty = (lengths - 0.5).square().mean()
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(penalty, list(params.values()) + [w],
                                allow_unused=True)
    return dict(zip(list(params) + ['w'], grads))


def test_path_length_gradients_match_mmagic():
    torch.manual_seed(0)
    ref = _Synthesis(ours=False)
    state = randomize_state_dict(ref.state_dict())
    ref.load_state_dict(state)
    ours = _Synthesis(ours=True)
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 4, 4, 4)
    w = torch.randn(2, STYLE)
    noises = (torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8))
    img_noise = torch.randn(2, 3, 8, 8) / math.sqrt(8 * 8)
    want = path_length_grads(ref, x, w, noises, img_noise)
    got = path_length_grads(ours, x, w, noises, img_noise)
    assert got.keys() == want.keys()
    for key, value in want.items():
        if _is_zero(value):
            assert _is_zero(got[key]), f'{key}: MMagic has no gradient'
            continue
        assert got[key] is not None, f'{key}: no path-length gradient'
        assert_rel_close(got[key], value, PATH_LENGTH_TOL,
                         f'path-length gradient of {key}')
    # the styled convs' noise weights and biases are reached (through the
    # demodulated next layer), not only the modulation weights
    reached = {k for k, v in want.items() if not _is_zero(v)}
    assert {'conv_up.noise_injector.weight', 'conv_up.activate.bias',
            'conv.conv.weight_orig', 'w'} <= reached, reached
