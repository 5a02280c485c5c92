"""Plain layers: same state-dict keys and outputs as MMagic's modules."""
import math

import mmagic.models  # noqa: F401  (after glean_plugin: needs the mmcv shim)
import pytest
import torch
from mmagic.models.archs import PixelShufflePack as MMPixelShufflePack
from mmagic.models.editors.esrgan.rrdb_net import RRDB as MMRRDB
from mmagic.models.editors.esrgan.rrdb_net import \
    ResidualDenseBlock as MMResidualDenseBlock
from mmagic.models.editors.glean.glean_styleganv2 import \
    RRDBFeatureExtractor as MMRRDBFeatureExtractor
from mmagic.models.editors.stylegan1 import EqualLinearActModule
from mmagic.models.editors.stylegan2.stylegan2_modules import (
    ModulatedStyleConv, ModulatedToRGB)

from glean_plugin.models.layers import (RRDB, EqualLinear, NoiseInjection,
                                        PixelNorm, PixelShufflePack,
                                        ResidualDenseBlock,
                                        RRDBFeatureExtractor, StyledConv,
                                        ToRGB)
from tests.support.helpers import (assert_rel_close, randomize_state_dict,
                                   shapes)

TOL = dict(rtol=1e-10, atol=1e-12)
# mmcv's upfirdn2d (used by MMagic's StyleGAN2 layers) only takes float32
# filters, so the StyleGAN2 layers are compared in float32.
FP32_REL_TOL = 1e-5


def sync(ours, ref, device, dtype=torch.float64, seed=0):
    """Same keys and shapes; copy randomised weights of ``ours`` into ``ref``.

    Returns both modules in ``dtype`` and eval mode, ours on ``device`` and
    the MMagic module on CPU.
    """
    assert shapes(ours.state_dict()) == shapes(ref.state_dict())
    state = randomize_state_dict(ours.state_dict(), seed=seed)
    ours.load_state_dict(state, strict=True)
    ref.load_state_dict(state, strict=True)
    return ours.to(device, dtype).eval(), ref.to(dtype).eval()


def compare(out, expected):
    assert out.shape == expected.shape
    assert expected.abs().max() > 0
    torch.testing.assert_close(out.cpu(), expected, **TOL)


@pytest.mark.parametrize('mid,growth', [(8, 4), (6, 5)])
def test_residual_dense_block(mid, growth, device):
    ours, ref = sync(ResidualDenseBlock(mid, growth),
                     MMResidualDenseBlock(mid, growth), device)
    assert sorted(ours.state_dict()) == sorted(
        f'conv{i}.{p}' for i in range(1, 6) for p in ('weight', 'bias'))
    x = torch.randn(2, mid, 5, 6, dtype=torch.float64)
    with torch.no_grad():
        compare(ours(x.to(device)), ref(x))


def test_rrdb(device):
    ours, ref = sync(RRDB(8, 4), MMRRDB(8, 4), device)
    assert {k.split('.')[0] for k in ours.state_dict()} == {'rdb1', 'rdb2',
                                                            'rdb3'}
    x = torch.randn(2, 8, 6, 5, dtype=torch.float64)
    with torch.no_grad():
        compare(ours(x.to(device)), ref(x))


def test_rrdb_feature_extractor(device):
    ours, ref = sync(RRDBFeatureExtractor(3, 8, num_blocks=2,
                                          growth_channels=4),
                     MMRRDBFeatureExtractor(3, 8, num_blocks=2,
                                            growth_channels=4), device)
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        compare(ours(x.to(device)), ref(x))


def test_rrdb_init_is_scaled_kaiming():
    """Residual convs start at 0.1x Kaiming (std 0.1*sqrt(2/fan_in)), biases 0,
    as MMagic's default_init_weights(scale=0.1)."""
    torch.manual_seed(1)
    block = ResidualDenseBlock(64, 32)
    for i in range(1, 6):
        conv = getattr(block, f'conv{i}')
        fan_in = conv.weight[0].numel()
        std = conv.weight.std().item()
        assert std == pytest.approx(0.1 * math.sqrt(2 / fan_in), rel=0.1)
        assert torch.count_nonzero(conv.bias) == 0


@pytest.mark.parametrize('scale,kernel', [(2, 3), (3, 1)])
def test_pixel_shuffle_pack(scale, kernel, device):
    ours, ref = sync(PixelShufflePack(6, 4, scale, kernel),
                     MMPixelShufflePack(6, 4, scale, kernel), device)
    assert sorted(ours.state_dict()) == ['upsample_conv.bias',
                                         'upsample_conv.weight']
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    with torch.no_grad():
        out = ours(x.to(device))
        assert out.shape == (2, 4, 5 * scale, 4 * scale)
        compare(out, ref(x))


@pytest.mark.parametrize('lr_mul,activate,bias_init', [(0.01, True, 0.),
                                                       (1., False, 1.),
                                                       (0.5, True, 0.3)])
def test_equal_linear(lr_mul, activate, bias_init, device):
    ours = EqualLinear(16, 24, bias_init=bias_init, lr_mul=lr_mul,
                       activate=activate)
    ref = EqualLinearActModule(
        16, 24, bias_init=bias_init,
        equalized_lr_cfg=dict(lr_mul=lr_mul, gain=1.),
        act_cfg=dict(type='fused_bias') if activate else None)
    assert sorted(ours.state_dict()) == ['bias', 'linear.weight_orig']
    torch.testing.assert_close(ours.bias, torch.full((24, ), bias_init))
    ours, ref = sync(ours, ref, device)
    x = torch.randn(5, 16, dtype=torch.float64)
    with torch.no_grad():
        compare(ours(x.to(device)), ref(x))


def test_pixel_norm_matches_mmagic_mapping_input(device):
    from mmagic.models.editors.pggan import PixelNorm as MMPixelNorm
    x = torch.randn(4, 16, dtype=torch.float64) * 3
    out = PixelNorm()(x.to(device))
    compare(out, MMPixelNorm(eps=1e-6)(x))
    torch.testing.assert_close(out.square().mean(1).cpu(),
                               torch.ones(4, dtype=torch.float64), rtol=1e-5,
                               atol=0)


def test_noise_injection():
    inj = NoiseInjection()
    assert torch.count_nonzero(inj.weight) == 0  # identity at init
    inj.weight.data.fill_(0.5)
    x = torch.randn(2, 3, 4, 4)
    noise = torch.randn(1, 1, 4, 4)
    torch.testing.assert_close(inj(x, noise), x + 0.5 * noise)
    a, b = inj(x), inj(x)  # fresh noise each call
    assert not torch.equal(a, b)


@pytest.mark.parametrize('impl', ['scaled', 'grouped'])
@pytest.mark.parametrize('upsample', [False, True])
def test_styled_conv(upsample, impl, device):
    ours = StyledConv(6, 5, 3, 16, upsample=upsample, impl=impl)
    ref = ModulatedStyleConv(6, 5, 3, 16, upsample=upsample,
                             blur_kernel=[1, 3, 3, 1])
    expected_keys = {'conv.weight_orig', 'conv.style_modulation.bias',
                     'conv.style_modulation.linear.weight_orig',
                     'noise_injector.weight', 'activate.bias'}
    if upsample:
        expected_keys.add('conv.blur.kernel')
    assert set(ours.state_dict()) == expected_keys
    ours, ref = sync(ours, ref, device, torch.float32)
    x = torch.randn(3, 6, 5, 5)
    w = torch.randn(3, 16)
    size = 10 if upsample else 5
    noise = torch.randn(1, 1, size, size)
    with torch.no_grad():
        out = ours(x.to(device), w.to(device), noise.to(device))
        assert out.shape == (3, 5, size, size)
        assert_rel_close(out, ref(x, w, noise=noise), FP32_REL_TOL)
        # the noise really is injected
        other = ours(x.to(device), w.to(device), noise.to(device) + 1)
        assert (other - out).abs().max() > 1e-3


@pytest.mark.parametrize('with_skip', [False, True])
def test_to_rgb(with_skip, device):
    ours = ToRGB(6, 16, upsample=with_skip)
    ref = ModulatedToRGB(6, 16, upsample=with_skip)
    expected_keys = {'conv.weight_orig', 'conv.style_modulation.bias',
                     'conv.style_modulation.linear.weight_orig', 'bias'}
    if with_skip:
        expected_keys.add('upsample.kernel')
    assert set(ours.state_dict()) == expected_keys
    ours, ref = sync(ours, ref, device, torch.float32)
    x = torch.randn(2, 6, 8, 8)
    w = torch.randn(2, 16)
    skip = torch.randn(2, 3, 4, 4) if with_skip else None
    with torch.no_grad():
        out = ours(x.to(device), w.to(device),
                   None if skip is None else skip.to(device))
        expected = ref(x, w, skip)
        assert out.shape == (2, 3, 8, 8)
        assert_rel_close(out, expected, FP32_REL_TOL)
        if with_skip:  # the skip path really contributes
            no_skip = ours(x.to(device), w.to(device))
            assert (out - no_skip).abs().max() > 1e-3


def test_to_rgb_without_upsample_adds_skip_as_is(device):
    """upsample=False: a skip of the output size is added unchanged (as
    MMagic's ModulatedToRGB and the ``upsample`` docstring say)."""
    ours, ref = sync(ToRGB(6, 16, upsample=False),
                     ModulatedToRGB(6, 16, upsample=False), device,
                     torch.float32)
    x = torch.randn(2, 6, 8, 8)
    w = torch.randn(2, 16)
    skip = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = ref(x, w, skip)
        out = ours(x.to(device), w.to(device), skip.to(device))
        assert_rel_close(out, expected, FP32_REL_TOL)
        assert_rel_close(out - skip.to(device), ours(x.to(device),
                                                     w.to(device)),
                         FP32_REL_TOL)
