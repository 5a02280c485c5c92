"""modulated_conv2d: 'scaled' vs 'grouped' vs a naive per-sample reference."""
import pytest
import torch
import torch.nn.functional as F

from glean_plugin.ops import (MODULATED_CONV_IMPLS, make_fir_kernel,
                              modulated_conv2d)
from glean_plugin.ops.modulated_conv import (DEMOD_EPS, GROUPED_MIN_PIXELS,
                                             choose_modconv_impl)

TAPS = (1, 3, 3, 1)


def fir_upsample_reference(x, kernel, pad0, pad1):
    """True convolution with ``kernel`` after zero padding (pad0, pad1) on
    both axes; negative pads crop. Independent of the package's ops."""
    x = F.pad(x, [max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)])
    x = x[..., max(-pad0, 0):x.shape[-2] - max(-pad1, 0),
          max(-pad0, 0):x.shape[-1] - max(-pad1, 0)]
    c = x.shape[1]
    weight = torch.flip(kernel, [0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, weight.to(x.dtype), groups=c)


def naive_modulated_conv(x, weight, styles, demodulate, upsample, taps=TAPS,
                         eps=DEMOD_EPS):
    outs = []
    k = weight.shape[-1]
    for n in range(x.shape[0]):
        w = weight * styles[n][None, :, None, None]
        if demodulate:
            w = w * torch.rsqrt(w.square().sum(dim=(1, 2, 3)) +
                                eps)[:, None, None, None]
        xn = x[n:n + 1]
        if upsample:
            out = F.conv_transpose2d(xn, w.transpose(0, 1), stride=2)
            p = len(taps) - 2 - (k - 1)
            kernel = make_fir_kernel(taps).to(x.dtype) * 4
            out = fir_upsample_reference(out, kernel, (p + 1) // 2 + 1,
                                         p // 2 + 1)
        else:
            out = F.conv2d(xn, w, padding=k // 2)
        outs.append(out)
    return torch.cat(outs, 0)


def make_inputs(batch, k, device, c_in=4, c_out=5, size=6):
    x = torch.randn(batch, c_in, size, size, dtype=torch.float64)
    weight = torch.randn(c_out, c_in, k, k, dtype=torch.float64) / k
    styles = torch.randn(batch, c_in, dtype=torch.float64) + 1.0
    return [t.to(device) for t in (x, weight, styles)]


@pytest.mark.parametrize('batch', [1, 3])
@pytest.mark.parametrize('k', [1, 3])
@pytest.mark.parametrize('upsample', [False, True])
@pytest.mark.parametrize('demodulate', [True, False])
def test_impls_match_naive_reference(demodulate, upsample, k, batch, device):
    x, weight, styles = make_inputs(batch, k, device)
    fir = make_fir_kernel(TAPS).double().to(device) * 4
    expected = naive_modulated_conv(x.cpu(), weight.cpu(), styles.cpu(),
                                    demodulate, upsample)
    size = 12 if upsample else 6
    assert expected.shape == (batch, 5, size, size)
    for impl in MODULATED_CONV_IMPLS:
        out = modulated_conv2d(x, weight, styles, demodulate=demodulate,
                               upsample=upsample, fir_kernel=fir, impl=impl)
        assert out.dtype == torch.float64
        torch.testing.assert_close(out.cpu(), expected, rtol=1e-10,
                                   atol=1e-12,
                                   msg=lambda m: f'impl={impl}: {m}')


@pytest.mark.parametrize('fir_impl', ['fast', 'reference'])
def test_fir_impl_option(fir_impl, device):
    x, weight, styles = make_inputs(2, 3, device)
    fir = make_fir_kernel(TAPS).double().to(device) * 4
    out = modulated_conv2d(x, weight, styles, upsample=True, fir_kernel=fir,
                           fir_impl=fir_impl)
    expected = naive_modulated_conv(x.cpu(), weight.cpu(), styles.cpu(), True,
                                    True)
    torch.testing.assert_close(out.cpu(), expected, rtol=1e-10, atol=1e-12)


def test_demodulated_output_channels_have_unit_weight_norm(device):
    """With demodulation each sample's effective weight has unit norm, so a
    delta input reproduces it: sum of squares over (in, taps) is 1."""
    c_in, k = 3, 3
    weight = torch.randn(2, c_in, k, k, dtype=torch.float64, device=device)
    styles = torch.rand(1, c_in, dtype=torch.float64, device=device) + 0.5
    energy = 0
    for i in range(c_in):
        x = torch.zeros(1, c_in, 5, 5, dtype=torch.float64, device=device)
        x[0, i, 2, 2] = 1
        out = modulated_conv2d(x, weight, styles, eps=0.)
        energy = energy + out[0, :, 1:4, 1:4].square().sum(dim=(1, 2))
    torch.testing.assert_close(energy.cpu(),
                               torch.ones(2, dtype=torch.float64))


def test_float32_impls_agree(device):
    x = torch.randn(2, 8, 8, 8, device=device)
    weight = torch.randn(6, 8, 3, 3, device=device) / 8
    styles = torch.randn(2, 8, device=device) + 1
    fir = make_fir_kernel(TAPS).to(device) * 4
    for upsample in (False, True):
        a = modulated_conv2d(x, weight, styles, upsample=upsample,
                             fir_kernel=fir, impl='scaled')
        b = modulated_conv2d(x, weight, styles, upsample=upsample,
                             fir_kernel=fir, impl='grouped')
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('upsample', [False, True])
@pytest.mark.parametrize('demodulate', [True, False])
def test_gradients_agree_between_impls(demodulate, upsample, device):
    x, weight, styles = make_inputs(3, 3, device)
    fir = make_fir_kernel(TAPS).double().to(device) * 4
    g_out = None
    grads = {}
    for impl in MODULATED_CONV_IMPLS + ('naive', ):
        leaves = [t.detach().clone().requires_grad_() for t in (x, weight,
                                                                 styles)]
        if impl == 'naive':
            out = naive_modulated_conv(*[t.cpu() for t in leaves], demodulate,
                                       upsample)
        else:
            out = modulated_conv2d(*leaves, demodulate=demodulate,
                                   upsample=upsample, fir_kernel=fir,
                                   impl=impl).cpu()
        if g_out is None:
            g_out = torch.randn(out.shape, dtype=out.dtype)
        grads[impl] = [g.cpu() for g in torch.autograd.grad(out, leaves,
                                                            g_out)]
    for name, i in (('x', 0), ('weight', 1), ('styles', 2)):
        assert grads['naive'][i].abs().sum() > 0
        for impl in MODULATED_CONV_IMPLS:
            torch.testing.assert_close(
                grads[impl][i], grads['naive'][i], rtol=1e-9, atol=1e-11,
                msg=lambda m: f'd/d{name}, impl={impl}: {m}')


def test_gradcheck_scaled_upsample(device):
    x, weight, styles = make_inputs(2, 3, device, c_in=2, c_out=2, size=3)
    fir = make_fir_kernel(TAPS).double().to(device) * 4
    leaves = tuple(t.requires_grad_() for t in (x, weight, styles))
    for impl in MODULATED_CONV_IMPLS:
        assert torch.autograd.gradcheck(
            lambda a, b, c: modulated_conv2d(a, b, c, upsample=True,
                                             fir_kernel=fir, impl=impl),
            leaves, fast_mode=True)


# double backward: R1 differentiates D's input gradient, path length G's
# gradient w.r.t. the styles
@pytest.mark.parametrize('impl', MODULATED_CONV_IMPLS)
@pytest.mark.parametrize('upsample,demodulate', [(False, True), (True, True),
                                                 (False, False)])
def test_gradgradcheck(impl, upsample, demodulate, device):
    x, weight, styles = make_inputs(2, 3, device, c_in=2, c_out=3, size=3)
    fir = make_fir_kernel(TAPS).double().to(device) * 4
    leaves = tuple(t.requires_grad_() for t in (x, weight, styles))
    assert torch.autograd.gradgradcheck(
        lambda a, b, c: modulated_conv2d(a, b, c, demodulate=demodulate,
                                         upsample=upsample, fir_kernel=fir,
                                         impl=impl), leaves)


@pytest.mark.parametrize('wrt', ['x', 'styles'])
@pytest.mark.parametrize('upsample', [False, True])
def test_second_order_gradients_agree_between_impls(upsample, wrt, device):
    """Gradients of sum((d sum(tanh(out)) / d wrt) ** 2) w.r.t. x, weight
    and styles equal the grouped (specification) form's for every impl;
    ``wrt='x'`` is R1's shape, ``'styles'`` path length's."""
    x, weight, styles = make_inputs(3, 3, device)
    fir = make_fir_kernel(TAPS).double().to(device) * 4
    leaves = [t.requires_grad_() for t in (x, weight, styles)]
    inner = leaves[0] if wrt == 'x' else leaves[2]
    grads = {}
    for impl in MODULATED_CONV_IMPLS:
        out = modulated_conv2d(*leaves, upsample=upsample, fir_kernel=fir,
                               impl=impl)
        g, = torch.autograd.grad(torch.tanh(out).sum(), inner,
                                 create_graph=True)
        grads[impl] = torch.autograd.grad(g.square().sum(), leaves)
    for name, i in (('x', 0), ('weight', 1), ('styles', 2)):
        assert grads['grouped'][i].abs().sum() > 0
        for impl in ('scaled', 'auto'):
            torch.testing.assert_close(
                grads[impl][i], grads['grouped'][i], rtol=1e-9, atol=1e-11,
                msg=lambda m: f'd2/d{name}, impl={impl}: {m}')


def test_styles_and_weight_cast_to_input_dtype(device):
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64, device=device)
    weight = torch.randn(3, 4, 3, 3, device=device)
    styles = torch.randn(2, 4, device=device)
    out = modulated_conv2d(x, weight, styles)
    assert out.dtype == torch.float64
    expected = naive_modulated_conv(x.cpu(), weight.double().cpu(),
                                    styles.double().cpu(), True, False)
    torch.testing.assert_close(out.cpu(), expected)


@pytest.mark.parametrize('upsample', [False, True])
def test_no_grad_path_equals_autograd_path(upsample, device):
    """Without autograd the demodulation is applied in place; same values."""
    x, weight, styles = make_inputs(2, 3, device)
    fir = make_fir_kernel(TAPS).double().to(device) * 4
    for impl in MODULATED_CONV_IMPLS:
        kw = dict(upsample=upsample, fir_kernel=fir, impl=impl)
        with_grad = modulated_conv2d(x, weight, styles.requires_grad_(), **kw)
        with torch.no_grad():
            without = modulated_conv2d(x, weight, styles, **kw)
        torch.testing.assert_close(without, with_grad.detach(), rtol=1e-12,
                                   atol=1e-12)


def _auto_inputs(size, channels_last=False, grad=False):
    x = torch.randn(1, 2, size, size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(2, 2, 3, 3, requires_grad=grad)
    return x, weight, torch.randn(1, 2)


def test_auto_rule():
    side = int(GROUPED_MIN_PIXELS**0.5)
    with torch.no_grad():
        assert choose_modconv_impl(*_auto_inputs(side)) == 'grouped'
        assert choose_modconv_impl(*_auto_inputs(side // 2)) == 'scaled'
        assert choose_modconv_impl(*_auto_inputs(
            side, channels_last=True)) == 'scaled'
    # autograd recording: 'scaled' (no weight gradient for frozen weights)
    assert choose_modconv_impl(*_auto_inputs(side, grad=True)) == 'scaled'
    # grad mode on but nothing requires grad: nothing is recorded
    assert choose_modconv_impl(*_auto_inputs(side)) == 'grouped'


@pytest.mark.parametrize('upsample', [False, True])
def test_auto_equals_both_impls_where_it_picks_grouped(upsample, device):
    side = int(GROUPED_MIN_PIXELS**0.5)
    x = torch.randn(2, 2, side, side, dtype=torch.float64, device=device)
    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64, device=device)
    styles = torch.randn(2, 2, dtype=torch.float64, device=device) + 1
    fir = make_fir_kernel(TAPS).double().to(device) * 4
    with torch.no_grad():
        outs = {impl: modulated_conv2d(x, weight, styles, upsample=upsample,
                                       fir_kernel=fir, impl=impl)
                for impl in MODULATED_CONV_IMPLS}
    for impl in ('scaled', 'grouped'):
        torch.testing.assert_close(outs['auto'], outs[impl], rtol=1e-12,
                                   atol=1e-12)


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
def test_error_bad_impl():
    x, weight, styles = make_inputs(1, 3, 'cpu')
    with pytest.raises(ValueError, match=r"impl must be one of .*'fused'"):
        modulated_conv2d(x, weight, styles, impl='fused')


@pytest.mark.parametrize('what', ['weight', 'styles_channels', 'styles_batch'])
def test_error_channel_mismatch(what):
    x, weight, styles = make_inputs(2, 3, 'cpu')
    if what == 'weight':
        weight = weight[:, :3]
    elif what == 'styles_channels':
        styles = styles[:, :3]
    else:
        styles = styles[:1]
    with pytest.raises(ValueError,
                       match=r'channel mismatch: x has 4 channels'):
        modulated_conv2d(x, weight, styles)


def test_error_wrong_ranks():
    x, weight, styles = make_inputs(2, 3, 'cpu')
    with pytest.raises(ValueError, match=r'expected x \(N, I, H, W\)'):
        modulated_conv2d(x[0], weight, styles)
    with pytest.raises(ValueError, match=r'expected x \(N, I, H, W\)'):
        modulated_conv2d(x, weight, styles[0])


def test_error_even_kernel():
    x, weight, styles = make_inputs(2, 2, 'cpu')
    with pytest.raises(ValueError, match='kernel size must be odd, got 2'):
        modulated_conv2d(x, weight, styles)


def test_error_upsample_without_fir_kernel():
    x, weight, styles = make_inputs(2, 3, 'cpu')
    with pytest.raises(ValueError, match='upsample=True needs a fir_kernel'):
        modulated_conv2d(x, weight, styles, upsample=True)
