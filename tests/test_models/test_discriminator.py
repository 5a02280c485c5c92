"""GLEANDiscriminator against MMagic's StyleGANv2Discriminator."""
import pytest
import torch

from glean_plugin.checkpoint import CheckpointMismatchError
from glean_plugin.models import GLEANDiscriminator, ModelInputError
from glean_plugin.registry import MODELS
from tests.support.helpers import (assert_rel_close, randomize_state_dict,
                                   rel_err, shapes)


def _mmagic_disc(**kwargs):
    import mmagic.models  # noqa: F401
    return MODELS.build(dict(type='StyleGANv2Discriminator', **kwargs))


@pytest.mark.parametrize('channels_last', [True, False])
@pytest.mark.parametrize('size,multiplier,batch', [
    (32, 1, 3), pytest.param(64, 1, 8, marks=pytest.mark.slow)])
def test_parity_with_mmagic(size, multiplier, batch, channels_last):
    ref = _mmagic_disc(in_size=size, channel_multiplier=multiplier)
    ours = GLEANDiscriminator(size, channel_multiplier=multiplier,
                              channels_last=channels_last)
    state = randomize_state_dict(ref.state_dict())
    assert {k: v.shape for k, v in state.items()} == {
        k: v.shape for k, v in ours.state_dict().items()}
    ref.load_state_dict(state)
    ours.load_state_dict(state, strict=True)
    x = torch.randn(batch, 3, size, size, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    out_ref, out = ref(x_ref), ours(x)
    assert out.shape == (batch, 1)
    assert_rel_close(out, out_ref, 1e-5, 'logits')
    # Input gradients: in float32 a pre-activation within rounding of 0 lands
    # on the other side of a leaky ReLU's kink in one implementation (slope 1
    # vs 0.2) and moves the whole input gradient. Over 40 random inputs
    # (32x32, batch 3) MMagic's own float32 gradients are off from a float64
    # run by more than 1e-5 for 10; ours vs MMagic differ by up to 1.0e-3
    # (NCHW) and 2.1e-3 (channels_last). A wrong gradient is off by O(1).
    g_ref, = torch.autograd.grad(out_ref.square().sum(), x_ref)
    g, = torch.autograd.grad(out.square().sum(), x)
    assert_rel_close(g, g_ref, 1e-2, 'input gradient')
    # float64 (no kinks crossed): the layout changes nothing but rounding
    other = GLEANDiscriminator(size, channel_multiplier=multiplier,
                               channels_last=not channels_last)
    other.load_state_dict(state, strict=True)
    grads = []
    for model in (ours.double(), other.double()):
        x64 = x.detach().double().requires_grad_()
        grads.append(torch.autograd.grad(model(x64).square().sum(), x64)[0])
    assert_rel_close(grads[0], grads[1], 1e-10, 'float64 input gradient')


def _write_stylegan2_checkpoint(path, disc):
    state = randomize_state_dict(disc.state_dict(), seed=3)
    torch.save({'state_dict': {f'discriminator.{k}': v
                               for k, v in state.items()}}, path)
    return state


def test_pretrained_init_cfg_loads_exactly(tmp_path):
    path = str(tmp_path / 'sg2.pth')
    expected = _write_stylegan2_checkpoint(path, GLEANDiscriminator(32))
    disc = GLEANDiscriminator(
        32, init_cfg=dict(type='Pretrained', checkpoint=path,
                          prefix='discriminator'))
    disc.init_weights()
    for key, value in disc.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_pretrained_mismatch_raises(tmp_path):
    path = str(tmp_path / 'sg2_64.pth')
    _write_stylegan2_checkpoint(path, GLEANDiscriminator(64))
    disc = GLEANDiscriminator(
        32, init_cfg=dict(type='Pretrained', checkpoint=path,
                          prefix='discriminator'))
    with pytest.raises(CheckpointMismatchError, match='unexpected'):
        disc.init_weights()
    with pytest.raises(CheckpointMismatchError, match='no key under prefix'):
        GLEANDiscriminator(32, pretrained=dict(ckpt_path=path, prefix='disc'))


def test_input_and_argument_errors():
    disc = GLEANDiscriminator(32)
    with pytest.raises(ValueError, match=r'expects \(N, 3, 32, 32\).*got'):
        disc(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match='multiple'):
        disc(torch.randn(6, 3, 32, 32))
    with pytest.raises(ValueError, match='power of two'):
        GLEANDiscriminator(48)
    with pytest.raises(TypeError, match='unexpected arguments'):
        GLEANDiscriminator(32, not_an_argument=1)


def test_pretrained_in_an_init_cfg_list_is_strict_too(tmp_path):
    path = str(tmp_path / 'sg2_64.pth')
    _write_stylegan2_checkpoint(path, GLEANDiscriminator(64))
    disc = GLEANDiscriminator(
        32, init_cfg=[dict(type='Constant', val=0., layer='Linear'),
                      dict(type='Pretrained', checkpoint=path,
                           prefix='discriminator')])
    with pytest.raises(CheckpointMismatchError, match='unexpected'):
        disc.init_weights()
    with pytest.raises(ValueError, match="needs a 'checkpoint'"):
        GLEANDiscriminator(32, init_cfg=dict(type='Pretrained')).init_weights()


COND = dict(cond_size=5, cond_mapping_channels=16, cond_mapping_layers=2)


@pytest.mark.parametrize('kwargs', [COND, dict(cond_size=5)],
                         ids=['cond', 'cond-defaults'])
def test_conditional_layout_matches_mmagic(kwargs):
    ref = _mmagic_disc(in_size=32, channel_multiplier=1, **kwargs)
    ours = GLEANDiscriminator(32, channel_multiplier=1, **kwargs)
    assert shapes(ours.state_dict()) == shapes(ref.state_dict())
    ours.load_state_dict(ref.state_dict(), strict=True)
    # MMagic's defaults: a 512-wide code, 8 mapping layers
    code = kwargs.get('cond_mapping_channels', 512)
    assert ours.final_linear[1].out_features == code
    assert hasattr(ours.mapping, 'fc{}'.format(
        kwargs.get('cond_mapping_layers', 8) - 1))


def test_conditional_parity_with_mmagic():
    """Same logits and the same gradients (every parameter, the label)."""
    ref = _mmagic_disc(in_size=32, channel_multiplier=1, **COND)
    ours = GLEANDiscriminator(32, channel_multiplier=1, **COND)
    state = randomize_state_dict(ref.state_dict(), seed=1)
    ref.load_state_dict(state)
    ours.load_state_dict(state, strict=True)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(4, 3, 32, 32, generator=gen)
    label = torch.randn(4, 5, generator=gen)
    outs, label_grads = [], []
    for model in (ref, ours):
        lab = label.clone().requires_grad_()
        out = model(x, lab)
        out.square().sum().backward()
        outs.append(out)
        label_grads.append(lab.grad)
    assert outs[1].shape == (4, 1)
    assert_rel_close(outs[1], outs[0], 1e-5, 'logits')
    assert_rel_close(label_grads[1], label_grads[0], 1e-4, 'label gradient')
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None and p.grad.abs().max() > 0, name
        err = rel_err(p.grad, ref_params[name].grad)
        assert err <= 1e-4, f'{name}: gradient relative error {err:.3g}'
    # the label matters
    with torch.no_grad():
        assert rel_err(ours(x, label), ours(x, label.flip(0))) > 1e-3


@pytest.mark.parametrize('kwargs,label,match', [
    (COND, None, 'a conditional discriminator \\(cond_size=5\\) needs a '
     '\\(2, 5\\) label, got None'),
    (COND, torch.zeros(2, 4), 'needs a \\(2, 5\\) label, got \\(2, 4\\)'),
    (COND, torch.zeros(3, 5), 'needs a \\(2, 5\\) label, got \\(3, 5\\)'),
    (dict(), torch.zeros(2, 5), 'label must be None for an unconditional '
     'discriminator \\(cond_size None\\), got a \\(2, 5\\) tensor'),
])
def test_label_errors(kwargs, label, match):
    """Clear errors (ValueError), and AssertionErrors where MMagic asserts."""
    disc = GLEANDiscriminator(32, channel_multiplier=1, max_channels=8,
                              **kwargs)
    with pytest.raises(ModelInputError, match=match) as err:
        disc(torch.randn(2, 3, 32, 32), label)
    assert isinstance(err.value, ValueError)
    assert isinstance(err.value, AssertionError)
