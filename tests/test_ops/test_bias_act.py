"""bias_leaky_relu against a hand computation."""
import math

import pytest
import torch

from glean_plugin.ops import bias_leaky_relu
from glean_plugin.ops.bias_act import DEFAULT_GAIN, DEFAULT_NEGATIVE_SLOPE


def hand(x, bias, slope, gain):
    if bias is not None:
        shape = [1, -1] + [1] * (x.ndim - 2)
        x = x + bias.view(shape)
    return torch.where(x >= 0, x, x * slope) * gain


def test_defaults_are_stylegan2s():
    assert DEFAULT_NEGATIVE_SLOPE == 0.2
    assert DEFAULT_GAIN == pytest.approx(math.sqrt(2.0))


@pytest.mark.parametrize('shape', [(2, 3, 4, 5), (4, 3), (2, 3, 6)])
def test_default_matches_hand_computation(shape, device):
    x = torch.randn(*shape, dtype=torch.float64)
    bias = torch.randn(3, dtype=torch.float64)
    out = bias_leaky_relu(x.to(device), bias.to(device))
    assert out.shape == x.shape
    expected = hand(x, bias, 0.2, math.sqrt(2.0))
    torch.testing.assert_close(out.cpu(), expected, rtol=1e-14, atol=1e-14)
    # both branches of the leaky ReLU are exercised
    assert (x + bias.view([1, -1] + [1] * (x.ndim - 2)) < 0).any()


@pytest.mark.parametrize('slope,gain', [(0.1, 1.0), (0.0, 2.0), (0.3, 0.5)])
def test_custom_slope_and_gain(slope, gain, device):
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    bias = torch.randn(4, dtype=torch.float64)
    out = bias_leaky_relu(x.to(device), bias.to(device), slope, gain)
    torch.testing.assert_close(out.cpu(), hand(x, bias, slope, gain),
                               rtol=1e-14, atol=1e-14)


def test_without_bias(device):
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    out = bias_leaky_relu(x.to(device))
    torch.testing.assert_close(out.cpu(), hand(x, None, 0.2, math.sqrt(2.)),
                               rtol=1e-14, atol=1e-14)


def test_bias_cast_to_input_dtype(device):
    x = torch.randn(2, 3, 2, 2, dtype=torch.float64, device=device)
    bias = torch.randn(3, dtype=torch.float32, device=device)
    out = bias_leaky_relu(x, bias)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.cpu(), hand(x.cpu(), bias.double().cpu(),
                                               0.2, math.sqrt(2.)))


def test_gradients_match_hand_computation(device):
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, device=device,
                    requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, device=device,
                       requires_grad=True)
    g_out = torch.randn(2, 3, 4, 4, dtype=torch.float64, device=device)
    got = torch.autograd.grad(bias_leaky_relu(x, bias), (x, bias), g_out)
    want = torch.autograd.grad(hand(x, bias, 0.2, math.sqrt(2.)), (x, bias),
                               g_out)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize('bias_shape', [(4, ), (1, 3), (3, 1), ()])
def test_bias_shape_error(bias_shape):
    x = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError,
                       match=r'bias must have shape \(3,\) for an input with 3 '
                       r'channels, got ' + str(tuple(bias_shape)).replace(
                           '(', r'\(').replace(')', r'\)')):
        bias_leaky_relu(x, torch.zeros(bias_shape))
