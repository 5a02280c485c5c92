"""StyleGAN2LatentBank vs MMagic's StyleGAN2Generator."""
import mmagic.models  # noqa: F401  (after glean_plugin: needs the mmcv shim)
import pytest
import torch
from mmagic.registry import MODELS

from glean_plugin import StyleGAN2LatentBank
from glean_plugin.models import stylegan2_channels
from tests.support.helpers import (assert_rel_close, randomize_state_dict,
                                   shapes)

STYLE = 16
REL_TOL = 1e-4


def mmagic_generator(out_size, channel_multiplier=1, style_channels=STYLE):
    return MODELS.build(
        dict(type='StyleGANv2Generator', out_size=out_size,
             style_channels=style_channels,
             channel_multiplier=channel_multiplier))


def synced_pair(out_size, device, impl='scaled', seed=0):
    """Bank on ``device`` and MMagic generator on CPU with equal weights."""
    bank = StyleGAN2LatentBank(out_size, style_channels=STYLE,
                               channel_multiplier=1, modconv_impl=impl)
    gen = mmagic_generator(out_size)
    state = randomize_state_dict(bank.state_dict(), seed=seed)
    bank.load_state_dict(state, strict=True)
    gen.load_state_dict(state, strict=True)
    return bank.to(device).eval(), gen.eval()


def mmagic_forward_with_features(gen, latents):
    """MMagic's RGB output for W+ ``latents`` and its per-resolution
    features (outputs of conv1 and of the second conv of every block),
    captured with forward hooks in a single forward pass."""
    feats = []
    layers = [gen.conv1] + list(gen.convs[1::2])
    handles = [
        layer.register_forward_hook(lambda m, i, o: feats.append(o))
        for layer in layers
    ]
    try:
        with torch.no_grad():
            rgb = gen([latents], input_is_latent=True, randomize_noise=False)
    finally:
        for h in handles:
            h.remove()
    return rgb, {4 * 2**i: f for i, f in enumerate(feats)}


@pytest.fixture(scope='module')
def reference(request):
    """Randomised bank state, MMagic generator with it, W+ latents and
    MMagic's outputs for them (computed once per out_size)."""
    out_size = request.param  # parametrized indirectly by the tests
    torch.manual_seed(out_size)
    bank = StyleGAN2LatentBank(out_size, style_channels=STYLE,
                               channel_multiplier=1)
    state = randomize_state_dict(bank.state_dict(), seed=out_size)
    gen = mmagic_generator(out_size)
    gen.load_state_dict(state, strict=True)
    gen.eval()
    latents = torch.randn(2, bank.num_latents, STYLE)
    rgb, feats = mmagic_forward_with_features(gen, latents)
    return dict(out_size=out_size, state=state, gen=gen, latents=latents,
                rgb=rgb, feats=feats)


def bank_from(reference, device, impl='scaled'):
    bank = StyleGAN2LatentBank(reference['out_size'], style_channels=STYLE,
                               channel_multiplier=1, modconv_impl=impl)
    bank.load_state_dict(reference['state'], strict=True)
    return bank.to(device).eval()


# --------------------------------------------------------------------------- #
# layout
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('out_size,multiplier', [(32, 1), (64, 1), (64, 2),
                                                 (128, 2), (64, 4)])
def test_state_dict_layout_matches_mmagic(out_size, multiplier):
    bank = StyleGAN2LatentBank(out_size, style_channels=STYLE,
                               channel_multiplier=multiplier)
    gen = mmagic_generator(out_size, multiplier)
    ours, theirs = shapes(bank.state_dict()), shapes(gen.state_dict())
    assert list(ours) == list(theirs)
    mismatched = {k: (ours[k], theirs[k]) for k in ours
                  if ours[k] != theirs[k]}
    assert not mismatched, f'shape mismatch (ours, MMagic): {mismatched}'
    assert bank.num_latents == gen.num_latents
    assert bank.num_injected_noises == gen.num_injected_noises
    assert bank.channels == {r: c for r, c in gen.channels.items()
                             if r <= out_size}


def test_stylegan2_channels_config_f():
    assert stylegan2_channels(1024) == {
        4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128,
        512: 64, 1024: 32
    }
    assert stylegan2_channels(256, channel_multiplier=1) == {
        4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64
    }
    assert list(stylegan2_channels(8)) == [4, 8]


@pytest.mark.parametrize('multiplier', [1, 2, 4])
def test_stylegan2_channels_equals_mmagic_table(multiplier):
    """The default cap (512) reproduces MMagic's table for any multiplier."""
    gen_table = {4: 512, 8: 512, 16: 512, 32: 512,
                 64: 256 * multiplier, 128: 128 * multiplier,
                 256: 64 * multiplier, 512: 32 * multiplier,
                 1024: 16 * multiplier}
    assert stylegan2_channels(1024, channel_multiplier=multiplier) == gen_table


def test_stylegan2_channels_max_channels_caps():
    assert stylegan2_channels(256, 2, max_channels=64) == {
        4: 64, 8: 64, 16: 64, 32: 64, 64: 64, 128: 64, 256: 64
    }
    assert stylegan2_channels(1024, 2, max_channels=100) == {
        4: 100, 8: 100, 16: 100, 32: 100, 64: 100, 128: 100, 256: 100,
        512: 64, 1024: 32
    }
    bank = StyleGAN2LatentBank(64, style_channels=STYLE, max_channels=16)
    assert bank.channels == {4: 16, 8: 16, 16: 16, 32: 16, 64: 16}
    assert bank.conv1.conv.weight_orig.shape == (1, 16, 16, 3, 3)


@pytest.mark.parametrize('out_size', [4, 48, 0, 100])
def test_bad_out_size(out_size):
    with pytest.raises(ValueError, match=f'power of two >= 8, got {out_size}'):
        StyleGAN2LatentBank(out_size, style_channels=STYLE)


def test_noise_buffers_match_resolutions():
    bank = StyleGAN2LatentBank(64, style_channels=STYLE, max_channels=8)
    assert bank.num_latents == 10 and bank.num_injected_noises == 9
    sizes = [bank.injected_noise(i).shape[-1] for i in range(9)]
    assert sizes == [4, 8, 8, 16, 16, 32, 32, 64, 64]


# --------------------------------------------------------------------------- #
# forward parity
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('reference', [32, 64], indirect=True)
def test_map_latents_equals_style_mapping(reference, device):
    bank = bank_from(reference, device)
    z = torch.randn(4, STYLE)
    with torch.no_grad():
        w = bank.map_latents(z.to(device))
        expected = reference['gen'].style_mapping(z)
    assert w.shape == (4, STYLE)
    assert_rel_close(w, expected, 1e-6)


# the grouped formulation is compared at out_size 32 only (time budget)
@pytest.mark.parametrize('reference,impl', [(32, 'scaled'), (32, 'grouped'),
                                            (64, 'scaled')],
                         indirect=['reference'])
def test_rgb_and_features_equal_mmagic_per_layer_latents(reference, impl,
                                                         device):
    """W+ codes (N, num_latents, style) with the fixed noise buffers."""
    out_size = reference['out_size']
    bank = bank_from(reference, device, impl)
    with torch.no_grad():
        feats, rgb = bank(reference['latents'].to(device), return_rgb=True)
    assert rgb.shape == (2, 3, out_size, out_size)
    assert_rel_close(rgb, reference['rgb'], REL_TOL, 'rgb')
    assert list(feats) == list(reference['feats'])
    for res, feat in feats.items():
        assert_rel_close(feat, reference['feats'][res], REL_TOL,
                         f'features at {res}')


def test_rgb_equals_mmagic_single_w(device):
    """A single w (N, style) fed to MMagic with input_is_latent=True equals
    the bank fed that w repeated to every layer."""
    torch.manual_seed(5)
    bank, gen = synced_pair(32, device, seed=5)
    w = torch.randn(2, STYLE)
    latents = w[:, None].repeat(1, bank.num_latents, 1)
    with torch.no_grad():
        _, rgb = bank(latents.to(device), return_rgb=True)
        expected = gen(w, input_is_latent=True, randomize_noise=False)
    assert_rel_close(rgb, expected, REL_TOL)


def test_per_layer_latents_are_used(device):
    bank = StyleGAN2LatentBank(32, style_channels=STYLE, max_channels=16)
    bank.load_state_dict(randomize_state_dict(bank.state_dict()))
    bank = bank.to(device)
    latents = torch.randn(2, bank.num_latents, STYLE, device=device)
    with torch.no_grad():
        _, rgb = bank(latents, return_rgb=True)
        for i in range(bank.num_latents):  # every latent changes the image
            changed = latents.clone()
            changed[:, i] += 1
            _, other = bank(changed, return_rgb=True)
            assert (other - rgb).abs().max() > 1e-4, f'latent {i} unused'


def test_features_resolutions_and_channels(device):
    bank = StyleGAN2LatentBank(64, style_channels=STYLE, channel_multiplier=1,
                               max_channels=24).to(device)
    latents = torch.randn(2, bank.num_latents, STYLE, device=device)
    feats = bank(latents)
    assert list(feats) == [4, 8, 16, 32, 64]
    for res, feat in feats.items():
        assert feat.shape == (2, bank.channels[res], res, res)
        assert feat.dtype == torch.float32
    feats2, rgb = bank(latents, return_rgb=True)
    assert rgb.shape == (2, 3, 64, 64)
    for res in feats:
        torch.testing.assert_close(feats[res], feats2[res])


def test_fuse_called_at_every_resolution_below_out_size(device):
    bank = StyleGAN2LatentBank(64, style_channels=STYLE,
                               max_channels=24).to(device)
    latents = torch.randn(2, bank.num_latents, STYLE, device=device)
    calls = []

    def fuse(res, feat):
        calls.append((res, tuple(feat.shape)))
        return feat

    plain = bank(latents)
    fused = bank(latents, fuse=fuse)
    assert calls == [(r, (2, bank.channels[r], r, r)) for r in (4, 8, 16, 32)]
    for res in plain:  # identity fuse changes nothing
        torch.testing.assert_close(fused[res], plain[res])


def test_fuse_output_feeds_the_next_resolution(device):
    bank = StyleGAN2LatentBank(32, style_channels=STYLE,
                               max_channels=24).to(device)
    latents = torch.randn(2, bank.num_latents, STYLE, device=device)
    plain = bank(latents)
    fused = bank(latents, fuse=lambda res, f: f * 3 if res == 8 else f)
    # features are stored before fusion: 4 and 8 unchanged, 16 and 32 changed
    for res in (4, 8):
        torch.testing.assert_close(fused[res], plain[res])
    for res in (16, 32):
        assert (fused[res] - plain[res]).abs().max() > 1e-3


def test_fixed_and_random_noise(device):
    bank = StyleGAN2LatentBank(16, style_channels=STYLE, max_channels=8)
    bank.load_state_dict(randomize_state_dict(bank.state_dict()))
    bank = bank.to(device)
    latents = torch.randn(1, bank.num_latents, STYLE, device=device)
    a, b = bank(latents)[16], bank(latents)[16]
    assert torch.equal(a, b)  # fixed noise buffers: deterministic
    c = bank(latents, randomize_noise=True)[16]
    assert (c - a).abs().max() > 1e-4


@pytest.mark.parametrize('shape', [(2, STYLE), (2, 7, STYLE),
                                   (2, 8, STYLE + 1), (1, 2, 8, STYLE)])
def test_wrong_latents_shape(shape):
    bank = StyleGAN2LatentBank(32, style_channels=STYLE, max_channels=8)
    assert bank.num_latents == 8
    expected = f'latents must be \\(N, 8, {STYLE}\\), got ' + str(
        tuple(shape)).replace('(', r'\(').replace(')', r'\)')
    with pytest.raises(ValueError, match=expected):
        bank(torch.zeros(shape))


def test_synthesize_takes_one_noise_map_per_styled_conv(device):
    """``synthesize`` (shared with StyleGAN2Generator) with the fixed maps
    is the bank's forward; other maps change the features; a wrong count
    raises."""
    bank = StyleGAN2LatentBank(16, style_channels=STYLE, max_channels=8)
    bank.load_state_dict(randomize_state_dict(bank.state_dict()))
    bank = bank.to(device)
    latents = torch.randn(2, bank.num_latents, STYLE, device=device)
    assert bank.noise_sizes == (4, 8, 8, 16, 16)
    with torch.no_grad():
        feats, rgb = bank.synthesize(latents, bank.fixed_noises(),
                                     return_rgb=True)
        expected, expected_rgb = bank(latents, return_rgb=True)
        other = [torch.randn(1, 1, s, s, device=device)
                 for s in bank.noise_sizes]
        changed = bank.synthesize(latents, other)[0]
    torch.testing.assert_close(rgb, expected_rgb, rtol=0, atol=0)
    for res in expected:
        torch.testing.assert_close(feats[res], expected[res], rtol=0, atol=0)
    assert (changed[16] - feats[16]).abs().max() > 1e-4
    assert bank.synthesize(latents, bank.fixed_noises())[1] is None
    with pytest.raises(ValueError, match='noises must hold 5 maps '
                       '\\(or None\\), got 4'):
        bank.synthesize(latents, bank.fixed_noises()[:4])
