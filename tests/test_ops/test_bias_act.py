"""bias_leaky_relu and noise_bias_leaky_relu against hand computations."""
import math
import re

import pytest
import torch

from glean_plugin.ops import bias_leaky_relu, noise_bias_leaky_relu
from glean_plugin.ops.bias_act import (DEFAULT_GAIN, DEFAULT_NEGATIVE_SLOPE,
                                       EPILOGUE_IMPLS)


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
    got = re.escape(str(tuple(bias_shape)))
    with pytest.raises(ValueError,
                       match=r'bias must have shape \(3,\) for an input '
                       r'with 3 channels, got ' + got):
        bias_leaky_relu(x, torch.zeros(bias_shape))


# --------------------------------------------------------------------------- #
# noise_bias_leaky_relu (the styled-conv epilogue)
# --------------------------------------------------------------------------- #
def epilogue_inputs(device, noise_batch=1, dtype=torch.float64):
    x = torch.randn(2, 3, 5, 4, dtype=dtype, device=device)
    noise = torch.randn(noise_batch, 1, 5, 4, dtype=dtype, device=device)
    noise_weight = torch.randn(1, dtype=dtype, device=device)
    bias = torch.randn(3, dtype=dtype, device=device)
    return x, noise, noise_weight, bias


def hand_epilogue(x, noise, noise_weight, bias, slope=0.2, gain=math.sqrt(2)):
    return hand(x + noise_weight * noise, bias, slope, gain)


@pytest.mark.parametrize('impl', EPILOGUE_IMPLS)
@pytest.mark.parametrize('noise_batch', [1, 2])
@pytest.mark.parametrize('slope,gain', [(0.2, math.sqrt(2)), (0.0, 0.5)])
def test_epilogue_matches_hand_computation(impl, noise_batch, slope, gain,
                                           device):
    x, noise, nw, bias = epilogue_inputs(device, noise_batch)
    out = noise_bias_leaky_relu(x, noise, nw, bias, slope, gain, impl=impl)
    assert out.shape == x.shape and out.dtype == x.dtype
    expected = hand_epilogue(x.cpu(), noise.cpu(), nw.cpu(), bias.cpu(),
                             slope, gain)
    torch.testing.assert_close(out.cpu(), expected, rtol=1e-13, atol=1e-13)
    pre = x + nw * noise + bias[:, None, None]
    assert (pre < 0).any() and (pre > 0).any()


@pytest.mark.parametrize('with_noise,with_bias', [(False, True), (True, False),
                                                  (False, False)])
def test_epilogue_optional_terms(with_noise, with_bias, device):
    x, noise, nw, bias = epilogue_inputs(device)
    noise, nw = (noise, nw) if with_noise else (None, None)
    bias = bias if with_bias else None
    expected = hand(x.cpu() + (nw.cpu() * noise.cpu() if with_noise else 0),
                    None if bias is None else bias.cpu(), 0.2, math.sqrt(2))
    for impl in EPILOGUE_IMPLS:
        out = noise_bias_leaky_relu(x, noise, nw, bias, impl=impl)
        torch.testing.assert_close(out.cpu(), expected, rtol=1e-13,
                                   atol=1e-13)


def test_epilogue_float_noise_weight(device):
    x, noise, _, bias = epilogue_inputs(device)
    out = noise_bias_leaky_relu(x, noise, 0.3, bias)
    torch.testing.assert_close(
        out.cpu(), hand_epilogue(x.cpu(), noise.cpu(), 0.3, bias.cpu()))


@pytest.mark.parametrize('noise_batch', [1, 2])
def test_epilogue_fast_gradients_match_reference(noise_batch, device):
    """The hand-written backward (from the output's sign) equals autograd
    through the reference, for every input."""
    inputs = [t.requires_grad_() for t in epilogue_inputs(device,
                                                          noise_batch)]
    g_out = torch.randn_like(inputs[0])
    grads = {}
    for impl in EPILOGUE_IMPLS:
        out = noise_bias_leaky_relu(*inputs, impl=impl)
        grads[impl] = torch.autograd.grad(out, inputs, g_out)
    for name, fast, ref in zip(('x', 'noise', 'noise_weight', 'bias'),
                               grads['fast'], grads['reference']):
        assert fast.shape == ref.shape, name
        assert ref.abs().sum() > 0, name
        torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12,
                                   msg=lambda m: f'd/d{name}: {m}')


def test_epilogue_gradcheck(device):
    inputs = tuple(t.requires_grad_() for t in epilogue_inputs(device))
    assert torch.autograd.gradcheck(noise_bias_leaky_relu, inputs)


def test_epilogue_fast_saves_only_its_output(device):
    """Under autograd 'fast' keeps its output (which the next layer keeps
    anyway) instead of the reference's extra pre-activation tensor."""
    def saved_activations(impl):
        x, noise, nw, bias = [t.requires_grad_() for t in
                              epilogue_inputs(device)]
        saved = []

        def pack(t):
            if t.shape == x.shape:
                saved.append(t.data_ptr())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = noise_bias_leaky_relu(x, noise, nw, bias, impl=impl)
        return saved, out.data_ptr()

    saved, out_ptr = saved_activations('fast')
    assert saved == [out_ptr]
    saved, out_ptr = saved_activations('reference')
    assert len(saved) == 1 and saved[0] != out_ptr


def test_epilogue_inplace_without_autograd(device):
    x, noise, nw, bias = epilogue_inputs(device)
    expected = hand_epilogue(x.cpu(), noise.cpu(), nw.cpu(), bias.cpu())
    with torch.no_grad():
        out = noise_bias_leaky_relu(x, noise, nw, bias, inplace=True)
    assert out.data_ptr() == x.data_ptr()
    torch.testing.assert_close(x.cpu(), expected)


def test_epilogue_inplace_ignored_under_autograd(device):
    """With a graph to record, x is left alone (the backward needs no copy)."""
    x, noise, nw, bias = epilogue_inputs(device)
    bias.requires_grad_()
    before = x.clone()
    out = noise_bias_leaky_relu(x, noise, nw, bias, inplace=True)
    assert out.data_ptr() != x.data_ptr()
    torch.testing.assert_close(x, before, rtol=0, atol=0)
    out.sum().backward()
    assert bias.grad is not None


def test_epilogue_keeps_dtype_and_memory_format(device):
    x, noise, nw, bias = epilogue_inputs(device, dtype=torch.float32)
    x = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            out = noise_bias_leaky_relu(
                x, noise, nw.requires_grad_(grad), bias)
        assert out.dtype == torch.bfloat16
        assert out.is_contiguous(memory_format=torch.channels_last)
    expected = hand_epilogue(x.double().cpu(), noise.double().cpu(),
                             nw.detach().double().cpu(), bias.double().cpu())
    torch.testing.assert_close(out.double().cpu(), expected, rtol=2e-2,
                               atol=2e-2)


def test_epilogue_errors():
    x, noise, nw, bias = epilogue_inputs('cpu')
    with pytest.raises(ValueError, match=r"impl must be one of .*'fused'"):
        noise_bias_leaky_relu(x, impl='fused')
    with pytest.raises(ValueError, match=r'x must be \(N, C, H, W\)'):
        noise_bias_leaky_relu(x[0])
    with pytest.raises(ValueError, match=r'noise must have shape \(1 or 2, 1,'
                       r' 5, 4\), got \(1, 1, 4, 5\)'):
        noise_bias_leaky_relu(x, noise.transpose(2, 3), nw)
    with pytest.raises(ValueError, match='noise needs a noise_weight'):
        noise_bias_leaky_relu(x, noise)
    with pytest.raises(ValueError, match='one-element tensor'):
        noise_bias_leaky_relu(x, noise, torch.ones(2))
    with pytest.raises(ValueError, match=r'bias must have shape \(3,\)'):
        noise_bias_leaky_relu(x, bias=torch.zeros(4))
    for slope, gain in ((-0.1, 1.0), (0.2, 0.0), (0.2, -1.0)):
        with pytest.raises(ValueError, match='negative_slope must be >= 0 and'
                           ' gain > 0'):
            noise_bias_leaky_relu(x, negative_slope=slope, gain=gain)


# --------------------------------------------------------------------------- #
# double backward (the R1 and path-length regularisers differentiate a
# gradient)
# --------------------------------------------------------------------------- #
def second_order_grads(fn, inputs):
    """Gradients of sum((d sum(tanh(fn(*inputs))) / d inputs[0]) ** 2)
    w.r.t. every input: through fn's backward, with an incoming gradient
    that depends on fn's output (as in an R1 penalty)."""
    out = fn(*inputs)
    grad, = torch.autograd.grad(torch.tanh(out).sum(), inputs[0],
                                create_graph=True)
    return torch.autograd.grad(grad.square().sum(), inputs)


@pytest.mark.parametrize('impl', EPILOGUE_IMPLS)
@pytest.mark.parametrize('noise_batch', [1, 2])
def test_epilogue_gradgradcheck(impl, noise_batch, device):
    inputs = tuple(t.requires_grad_() for t in epilogue_inputs(
        device, noise_batch))

    def epilogue(x, noise, noise_weight, bias):
        return noise_bias_leaky_relu(x, noise, noise_weight, bias, impl=impl)

    assert torch.autograd.gradgradcheck(epilogue, inputs)


@pytest.mark.parametrize('noise_batch', [1, 2])
def test_epilogue_fast_second_order_matches_reference(noise_batch, device):
    """The fast backward is recorded under create_graph: second-order
    gradients w.r.t. every input equal the reference's, none is cut."""
    inputs = [t.requires_grad_() for t in epilogue_inputs(device,
                                                          noise_batch)]
    grads = {}
    for impl in EPILOGUE_IMPLS:
        grads[impl] = second_order_grads(
            lambda *a: noise_bias_leaky_relu(*a, impl=impl), inputs)
    for name, fast, ref in zip(('x', 'noise', 'noise_weight', 'bias'),
                               grads['fast'], grads['reference']):
        assert ref.abs().sum() > 0, name
        torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12,
                                   msg=lambda m: f'd2/d{name}: {m}')


def test_epilogue_float_noise_weight_second_order(device):
    x, noise, _, bias = [t.requires_grad_() for t in epilogue_inputs(device)]
    grads = [second_order_grads(
        lambda *a: noise_bias_leaky_relu(a[0], a[1], 0.3, a[2], impl=impl),
        (x, noise, bias)) for impl in EPILOGUE_IMPLS]
    for fast, ref in zip(*grads):
        torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('shape', [(2, 3, 4, 5), (4, 3), (2, 3, 6)])
def test_bias_leaky_relu_gradgradcheck(shape, device):
    x = torch.randn(*shape, dtype=torch.float64, device=device,
                    requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, device=device,
                       requires_grad=True)
    assert torch.autograd.gradgradcheck(bias_leaky_relu, (x, bias))
    got = second_order_grads(bias_leaky_relu, (x, bias))
    want = second_order_grads(
        lambda x, b: hand(x, b, 0.2, math.sqrt(2.)), (x, bias))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)
