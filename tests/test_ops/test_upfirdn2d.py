"""upfirdn2d: both impls against independent references (torch, scipy)."""
import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F

from glean_plugin.ops import make_fir_kernel, upfirdn2d
from glean_plugin.ops.upfirdn2d import UPFIRDN_IMPLS

TAPS = {
    'odd3': [1, 2, 1],
    'even4': [1, 3, 3, 1],
    'odd5': [1, 4, 6, 4, 1],
    'even2': [1, 1],
}
# pad argument -> (x0, x1, y0, y1)
PADS = {
    'int': (2, (2, 2, 2, 2)),
    'sym2': ((1, 1), (1, 1, 1, 1)),
    'asym2': ((1, 2), (1, 2, 1, 2)),
    'asym4': ((2, 1, 0, 3), (2, 1, 0, 3)),
    'neg2': ((-1, 2), (-1, 2, -1, 2)),
    'neg4': ((3, -1, 1, -2), (3, -1, 1, -2)),
}
H, W = 7, 5  # non-square, to catch H/W mix-ups


# --------------------------------------------------------------------------- #
# independent references
# --------------------------------------------------------------------------- #
def plain_upfirdn2d(x, kernel, up, down, pad4):
    """Zero insertion by index assignment, pad/crop, flipped-kernel conv2d,
    then keep every ``down``-th sample. pad4 = (x0, x1, y0, y1)."""
    x0, x1, y0, y1 = pad4
    n, c, h, w = x.shape
    z = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
    for i in range(h):
        for j in range(w):
            z[:, :, i * up, j * up] = x[:, :, i, j]
    # pad with zeros on every side by the positive amount, then crop
    big = torch.zeros(n, c, h * up + max(y0, 0) + max(y1, 0),
                      w * up + max(x0, 0) + max(x1, 0), dtype=x.dtype)
    big[:, :, max(y0, 0):max(y0, 0) + h * up,
        max(x0, 0):max(x0, 0) + w * up] = z
    big = big[:, :, max(-y0, 0):big.shape[2] - max(-y1, 0),
              max(-x0, 0):big.shape[3] - max(-x1, 0)]
    weight = torch.flip(kernel.to(x.dtype), [0, 1])[None, None]
    out = torch.cat([
        F.conv2d(big[:, ch:ch + 1], weight) for ch in range(c)
    ], dim=1)
    return out[:, :, ::down, ::down]


def _scipy_1d(sig, taps, up, down, p0, p1):
    """1D upfirdn with explicit padding, from scipy's full-convolution one."""
    k = len(taps)
    full = scipy.signal.upfirdn(taps, sig, up=up, down=1)
    length = len(sig) * up + p0 + p1 - k + 1
    out = np.zeros(length)
    for j in range(length):
        idx = j + k - 1 - p0
        if 0 <= idx < len(full):
            out[j] = full[idx]
    return out[::down]


def scipy_upfirdn2d(x, taps, up, down, pad4):
    """Separable kernel: 1D scipy upfirdn along W, then along H."""
    x0, x1, y0, y1 = pad4
    t = np.asarray(taps, dtype=np.float64)
    t = t / t.sum()
    arr = x.detach().double().numpy()
    arr = np.apply_along_axis(_scipy_1d, -1, arr, t, up, down, x0, x1)
    arr = np.apply_along_axis(_scipy_1d, -2, arr, t, up, down, y0, y1)
    return torch.from_numpy(arr)


def expected_size(size, up, down, p0, p1, k):
    return (size * up + p0 + p1 - k) // down + 1


# --------------------------------------------------------------------------- #
# values
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('pad_name', list(PADS))
@pytest.mark.parametrize('down', [1, 2])
@pytest.mark.parametrize('up', [1, 2, 3])
@pytest.mark.parametrize('taps_name', list(TAPS))
def test_matches_independent_references(taps_name, up, down, pad_name,
                                        device):
    taps = TAPS[taps_name]
    pad, pad4 = PADS[pad_name]
    kernel = make_fir_kernel(taps).double()
    x = torch.randn(2, 3, H, W, dtype=torch.float64)

    plain = plain_upfirdn2d(x, kernel, up, down, pad4)
    via_scipy = scipy_upfirdn2d(x, taps, up, down, pad4)
    k = len(taps)
    assert plain.shape == (2, 3,
                           expected_size(H, up, down, pad4[2], pad4[3], k),
                           expected_size(W, up, down, pad4[0], pad4[1], k))
    # the two test-side references agree with each other
    torch.testing.assert_close(plain, via_scipy, rtol=1e-12, atol=1e-12)

    for impl in UPFIRDN_IMPLS:
        out = upfirdn2d(x.to(device), kernel.to(device), up=up, down=down,
                        pad=pad, impl=impl)
        assert out.dtype == torch.float64
        assert out.device.type == device.type
        torch.testing.assert_close(out.cpu(), plain, rtol=1e-12, atol=1e-12,
                                   msg=lambda m: f'impl={impl}: {m}')


@pytest.mark.parametrize('up,down', [(1, 1), (2, 1), (3, 2), (1, 2)])
@pytest.mark.parametrize('taps_name', list(TAPS))
def test_full_padding_equals_scipy_upfirdn(taps_name, up, down, device):
    """pad = (K-1, K-up) makes upfirdn2d equal scipy.signal.upfirdn (full
    convolution) including its down-sampling, per axis of a separable
    kernel."""
    taps = TAPS[taps_name]
    k = len(taps)
    t = np.asarray(taps, dtype=np.float64) / np.sum(taps)
    x = torch.randn(1, 2, H, W, dtype=torch.float64)
    arr = x.numpy()
    arr = np.apply_along_axis(
        lambda s: scipy.signal.upfirdn(t, s, up=up, down=down), -1, arr)
    arr = np.apply_along_axis(
        lambda s: scipy.signal.upfirdn(t, s, up=up, down=down), -2, arr)
    for impl in UPFIRDN_IMPLS:
        kernel = make_fir_kernel(taps).double().to(device)
        out = upfirdn2d(x.to(device), kernel, up=up, down=down,
                        pad=(k - 1, k - up), impl=impl)
        torch.testing.assert_close(out.cpu(), torch.from_numpy(arr),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('pad', [(1, 1, 0, 2), (0, 2, 1, 1), (2, 2, 1, 1)])
@pytest.mark.parametrize('down', [1, 2])
def test_symmetric_and_half_symmetric_padding(pad, down, device):
    """Padding symmetric on both axes is left to the convolution (no padded
    copy); symmetric on one axis only is not. Both equal the reference."""
    kernel = make_fir_kernel(TAPS['even4']).double().to(device)
    x = torch.randn(2, 3, H, W, dtype=torch.float64, device=device)
    outs = [upfirdn2d(x, kernel, down=down, pad=pad, impl=impl)
            for impl in UPFIRDN_IMPLS]
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('up,down,pad', [(1, 1, (1, 0, 2, 1)), (2, 1, 1),
                                         (3, 2, (2, 0, 1, 3)), (2, 2, -1)])
def test_non_separable_non_square_kernel(up, down, pad, device):
    kernel = torch.rand(3, 2, dtype=torch.float64) + 0.1
    kernel[0, 1] = -0.3  # not symmetric, so flipping matters
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64)
    pad4 = (pad, ) * 4 if isinstance(pad, int) else pad
    expected = plain_upfirdn2d(x, kernel, up, down, pad4)
    for impl in UPFIRDN_IMPLS:
        out = upfirdn2d(x.to(device), kernel.to(device), up=up, down=down,
                        pad=pad, impl=impl)
        torch.testing.assert_close(out.cpu(), expected, rtol=1e-12,
                                   atol=1e-12)


def test_float32_impls_agree(device):
    x = torch.randn(2, 4, 9, 9, device=device)
    kernel = make_fir_kernel([1, 3, 3, 1]).to(device) * 4
    fast = upfirdn2d(x, kernel, up=2, pad=(2, 1))
    ref = upfirdn2d(x, kernel, up=2, pad=(2, 1), impl='reference')
    assert fast.shape == (2, 4, 18, 18)
    assert fast.dtype == torch.float32
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-6)


def test_identity_kernel_is_plain_padding():
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    out = upfirdn2d(x, torch.ones(1, 1, dtype=torch.float64), pad=(1, 0, 0, 2))
    expected = F.pad(x, [1, 0, 0, 2])
    assert torch.equal(out, expected)


@pytest.mark.parametrize('impl', UPFIRDN_IMPLS)
@pytest.mark.parametrize('up,down,pad', [(2, 1, (2, 1)), (1, 2, (1, 2, 0, 1)),
                                         (3, 2, (-1, 2))])
def test_gradcheck(impl, up, down, pad, device):
    x = torch.randn(1, 2, 4, 3, dtype=torch.float64, device=device,
                    requires_grad=True)
    kernel = make_fir_kernel([1, 3, 3, 1]).double().to(device)
    assert torch.autograd.gradcheck(
        lambda inp: upfirdn2d(inp, kernel, up=up, down=down, pad=pad,
                              impl=impl), (x, ))


def test_gradients_of_impls_agree(device):
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, device=device,
                    requires_grad=True)
    kernel = make_fir_kernel([1, 4, 6, 4, 1]).double().to(device)
    grads = []
    for impl in UPFIRDN_IMPLS:
        out = upfirdn2d(x, kernel, up=2, down=2, pad=(3, 1), impl=impl)
        (g, ) = torch.autograd.grad((out * torch.arange(
            out.numel(), dtype=out.dtype, device=device).view_as(out)).sum(),
                                    x)
        grads.append(g)
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-12)


# double backward (R1 / path length differentiate gradients through the FIR)
DOUBLE_BACKWARD_CASES = [(2, 1, (2, 1)), (1, 2, (1, 2, 0, 1)), (1, 2, 1),
                         (3, 2, (-1, 2)), (1, 1, (2, 1, 0, 3))]


@pytest.mark.parametrize('impl', UPFIRDN_IMPLS)
@pytest.mark.parametrize('up,down,pad', DOUBLE_BACKWARD_CASES)
def test_gradgradcheck(impl, up, down, pad, device):
    x = torch.randn(1, 2, 4, 3, dtype=torch.float64, device=device,
                    requires_grad=True)
    kernel = make_fir_kernel([1, 3, 3, 1]).double().to(device)
    assert torch.autograd.gradgradcheck(
        lambda inp: upfirdn2d(inp, kernel, up=up, down=down, pad=pad,
                              impl=impl), (x, ))


@pytest.mark.parametrize('up,down,pad', DOUBLE_BACKWARD_CASES)
def test_second_order_gradients_of_impls_agree(up, down, pad, device):
    """d/dx of sum((d sum(tanh(upfirdn2d(x))) / dx) ** 2): through the
    op's backward, with an incoming gradient that depends on x."""
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64, device=device,
                    requires_grad=True)
    kernel = make_fir_kernel([1, 3, 3, 1]).double().to(device)
    grads = []
    for impl in UPFIRDN_IMPLS:
        out = upfirdn2d(x, kernel, up=up, down=down, pad=pad, impl=impl)
        g, = torch.autograd.grad(torch.tanh(out).sum(), x, create_graph=True)
        grads.append(torch.autograd.grad(g.square().sum(), x)[0])
    assert grads[1].abs().sum() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
def test_error_non_4d_input():
    with pytest.raises(ValueError,
                       match=r'x must be \(N, C, H, W\).*\(3, 4, 4\)'):
        upfirdn2d(torch.zeros(3, 4, 4), torch.ones(2, 2))


def test_error_non_2d_kernel():
    with pytest.raises(ValueError, match=r'kernel must be 2D.*\(4,\)'):
        upfirdn2d(torch.zeros(1, 1, 4, 4), torch.ones(4))


@pytest.mark.parametrize('up,down', [(0, 1), (1, 0), (-1, 1)])
def test_error_up_down_below_one(up, down):
    with pytest.raises(ValueError, match=f'up and down must be >= 1.*up={up}, '
                       f'down={down}'):
        upfirdn2d(torch.zeros(1, 1, 4, 4), torch.ones(2, 2), up=up, down=down)


def test_error_unknown_impl():
    with pytest.raises(ValueError,
                       match=r"impl must be one of.*'fast'.*'cuda'"):
        upfirdn2d(torch.zeros(1, 1, 4, 4), torch.ones(2, 2), impl='cuda')


@pytest.mark.parametrize('pad', [(1, 2, 3), (1, ), (1, 1, 1, 1, 1)])
def test_error_bad_pad_length(pad):
    with pytest.raises(ValueError, match=r'pad must be an int, \(before, '
                       r'after\) or \(x0, x1, y0, y1\)'):
        upfirdn2d(torch.zeros(1, 1, 4, 4), torch.ones(2, 2), pad=pad)


@pytest.mark.parametrize('pad,msg', [(0, r'\(2, 2\).*kernel \(5, 5\)'),
                                     ((-2, 0, 3, 3), r'\(8, 0\).*kernel')])
def test_error_padded_smaller_than_kernel(pad, msg):
    with pytest.raises(ValueError, match=r'smaller than the kernel') as info:
        upfirdn2d(torch.zeros(1, 1, 2, 2), torch.ones(5, 5), pad=pad)
    assert info.match(msg)


# --------------------------------------------------------------------------- #
# make_fir_kernel
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('taps', list(TAPS.values()))
def test_make_fir_kernel_1d_is_normalised_outer_product(taps):
    k = make_fir_kernel(taps)
    t = torch.tensor(taps, dtype=torch.float64)
    assert k.shape == (len(taps), len(taps))
    assert k.dtype == torch.float32
    torch.testing.assert_close(k.sum().double(), torch.tensor(1.0,
                                                              dtype=torch.float64))
    torch.testing.assert_close(k.double(), torch.outer(t, t) / t.sum()**2)


def test_make_fir_kernel_2d_taps_normalised():
    taps = [[1., 2.], [3., 4.], [0., 5.]]
    k = make_fir_kernel(taps)
    assert k.shape == (3, 2)
    torch.testing.assert_close(k, torch.tensor(taps) / 15.)


def test_make_fir_kernel_accepts_tensor():
    torch.testing.assert_close(make_fir_kernel(torch.tensor([1., 1.])),
                               torch.full((2, 2), 0.25))


@pytest.mark.parametrize('taps', [[], [[]]])
def test_make_fir_kernel_empty(taps):
    with pytest.raises(ValueError, match='non-empty'):
        make_fir_kernel(taps)


def test_make_fir_kernel_not_1d_or_2d():
    with pytest.raises(ValueError, match=r'1D or 2D.*\(1, 2, 2\)'):
        make_fir_kernel(torch.ones(1, 2, 2))


@pytest.mark.parametrize('taps', [[1, -1], [[1, -1], [-1, 1]], [0, 0, 0]])
def test_make_fir_kernel_zero_sum(taps):
    with pytest.raises(ValueError, match='must not sum to zero'):
        make_fir_kernel(taps)
