"""GLEANNet: parity with MMagic's GLEANStyleGANv2, gradients, checkpoints,
validation."""
import os
import re

import mmagic.models  # noqa: F401  (after glean_plugin: needs the mmcv shim)
import pytest
import torch
from mmagic.models.editors.glean.glean_styleganv2 import GLEANStyleGANv2
from mmagic.registry import MODELS

from glean_plugin import GLEANNet, StyleGAN2LatentBank
from glean_plugin.checkpoint import CheckpointMismatchError
from tests.support.helpers import (assert_rel_close, randomize_state_dict,
                                   rel_err, shapes)

REL_TOL = 1e-4
STYLE = 16
# Small encoder / latent for parity with MMagic (whose bank has 512 channels
# up to 32x32 whatever the arguments).
SMALL = dict(style_channels=STYLE, num_rrdbs=1, rrdb_channels=8,
             channel_multiplier=1)
# Tiny plugin-only model: max_channels caps the bank, encoder and decoder.
TINY = dict(in_size=8, out_size=32, style_channels=STYLE, num_rrdbs=1,
            rrdb_channels=8, max_channels=32)


def build_pair(in_size, out_size, seed=0, impl='scaled', **kwargs):
    """GLEANNet and MMagic's GLEANStyleGANv2 with the same randomised
    weights (copied with strict=True), in eval mode, on CPU."""
    torch.manual_seed(seed)
    kw = dict(SMALL, in_size=in_size, out_size=out_size, **kwargs)
    ours = GLEANNet(**kw, modconv_impl=impl)
    ref = GLEANStyleGANv2(**kw)
    state = randomize_state_dict(ours.state_dict(), seed=seed)
    ours.load_state_dict(state, strict=True)
    ref.load_state_dict(state, strict=True)
    return ours.eval(), ref.eval()


# --------------------------------------------------------------------------- #
# forward parity
# --------------------------------------------------------------------------- #
@pytest.fixture(scope='module')
def parity_ref(request):
    """Randomised weights, MMagic's model, and a cache of its outputs."""
    in_size, out_size = request.param
    torch.manual_seed(in_size + out_size)
    ours, ref = build_pair(in_size, out_size, seed=in_size + out_size)
    gen = torch.Generator().manual_seed(123)
    inputs = {b: torch.rand(b, 3, in_size, in_size, generator=gen)
              for b in (1, 3)}
    return dict(kw=dict(SMALL, in_size=in_size, out_size=out_size),
                state=ours.state_dict(), model=ref, inputs=inputs, outputs={})


def mmagic_output(parity_ref, batch):
    if batch not in parity_ref['outputs']:
        with torch.no_grad():
            parity_ref['outputs'][batch] = parity_ref['model'](
                parity_ref['inputs'][batch])
    return parity_ref['outputs'][batch]


# Batch 3 for the small sizes only; the large ones (MMagic's bank has 512
# channels up to 32x32) run batch 1 to keep the suite fast on CPU.
PARITY_CASES = [(size, impl, batch) for size in [(4, 32), (8, 64)]
                for impl in ('scaled', 'grouped') for batch in (1, 3)]
PARITY_CASES += [(size, impl, 1)
                 for size in [(32, 256), (16, 256), (64, 1024)]
                 for impl in ('scaled', 'grouped')]


# 64 -> 1024 (the largest bank) only in the full run
PARITY_PARAMS = [pytest.param(*case, marks=pytest.mark.slow)
                 if case[0] == (64, 1024) else case for case in PARITY_CASES]


@pytest.mark.parametrize('parity_ref,impl,batch', PARITY_PARAMS,
                         indirect=['parity_ref'],
                         ids=[f'{s[0]}to{s[1]}-{i}-b{b}'
                              for s, i, b in PARITY_CASES])
def test_forward_parity_with_mmagic(parity_ref, impl, batch, device):
    ours = GLEANNet(**parity_ref['kw'], modconv_impl=impl)
    ours.load_state_dict(parity_ref['state'], strict=True)
    ours = ours.to(device).eval()
    x = parity_ref['inputs'][batch]
    with torch.no_grad():
        out = ours(x.to(device))
    expected = mmagic_output(parity_ref, batch)
    out_size = parity_ref['kw']['out_size']
    assert out.shape == expected.shape == (batch, 3, out_size, out_size)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert expected.std() > 1e-3  # a non-degenerate reference
    assert_rel_close(out, expected, REL_TOL)


def test_output_depends_on_the_latent_bank(device):
    """Perturbing a bank weight changes the output (the bank is used)."""
    model = GLEANNet(**TINY).eval()
    model.load_state_dict(randomize_state_dict(model.state_dict()))
    model = model.to(device)
    x = torch.rand(2, 3, 8, 8, device=device)
    with torch.no_grad():
        out = model(x)
        weight = model.generator.convs[3].conv.weight_orig
        # (a global scale would be undone by demodulation)
        weight.add_(0.5 * torch.randn_like(weight))
        assert (model(x) - out).abs().max() > 1e-4


# --------------------------------------------------------------------------- #
# gradients
# --------------------------------------------------------------------------- #
# Gradients of the first layers are sums over every pixel after the whole
# network's backward pass: float32 rounding alone reaches ~1e-4 there.
# Against a float64 run of the same weights (8->64, batch 2, seeds 7 and 8)
# MMagic's own float32 gradients are off by up to 1.05e-4, ours (NCHW or
# channels_last) by up to 1.4e-4, and ours vs MMagic differ by up to 1.7e-4.
# 5e-4 is that, with margin; a wrong gradient is off by orders more.
GRAD_REL_TOL = 5e-4


@pytest.mark.parametrize('size,impl,batch', [
    pytest.param((8, 64), 'scaled', 2, marks=pytest.mark.slow),
    pytest.param((8, 64), 'grouped', 2, marks=pytest.mark.slow),
    ((16, 128), 'scaled', 1)],
                         ids=['8to64-scaled-b2', '8to64-grouped-b2',
                              '16to128-scaled-b1'])
def test_gradient_parity_with_mmagic(size, impl, batch, device):
    ours, ref = build_pair(*size, seed=7, impl=impl)
    ours = ours.to(device)
    x = torch.rand(batch, 3, size[0], size[0])
    ours(x.to(device)).square().mean().backward()
    ref(x).square().mean().backward()

    ref_params = dict(ref.named_parameters())
    our_params = dict(ours.named_parameters())
    assert list(ref_params) == list(our_params)
    compared = 0
    for name, p_ref in ref_params.items():
        p = our_params[name]
        if not p_ref.requires_grad:  # MMagic's frozen latent bank
            assert not p.requires_grad, f'{name} must be frozen'
            continue
        if p_ref.grad is None or p_ref.grad.abs().max() == 0:
            # MMagic: fusion_skip only feeds the RGB skip path, which never
            # reaches the output. Ours may freeze it or leave it trainable,
            # but it must not get a gradient either.
            assert name.startswith('fusion_skip.'), (
                f'{name}: unexpected parameter without gradient in MMagic')
            assert p.grad is None or p.grad.abs().max() == 0, (
                f'{name}: MMagic gets no gradient, ours does')
            continue
        assert p.requires_grad, f'{name} is trainable in MMagic'
        assert p.grad is not None, f'{name}: no gradient'
        err = rel_err(p.grad, p_ref.grad)
        assert err <= GRAD_REL_TOL, (
            f'{name}: gradient relative error {err:.3g}')
        compared += 1
    assert compared > 20
    assert all(ref_params[n].grad is None for n in ref_params
               if n.startswith('fusion_skip.'))


def test_frozen_bank_and_gradient_flow(device):
    model = GLEANNet(**TINY)
    model.load_state_dict(randomize_state_dict(model.state_dict()))
    model = model.to(device).train()
    assert not any(p.requires_grad for p in model.generator.parameters())
    model(torch.rand(2, 3, 8, 8, device=device)).square().mean().backward()

    for name, p in model.named_parameters():
        if name.startswith('generator.'):
            assert p.grad is None, f'frozen {name} got a gradient'
        elif name.startswith('fusion_skip.'):
            # cannot change the output
            assert p.grad is None or p.grad.abs().max() == 0, name
        else:
            assert p.grad is not None and p.grad.abs().max() > 0, (
                f'{name} affects the output but has no gradient')

    # the last latent only drives the bank's final to-RGB layer, which does
    # not reach GLEAN's output: its rows of the latent projection get zero
    # gradient, all the others do not.
    linear = model.encoder[-1][-1]
    num_latents = model.generator.num_latents
    w_grad = linear.weight.grad.view(num_latents, STYLE, -1)
    b_grad = linear.bias.grad.view(num_latents, STYLE)
    assert w_grad[-1].abs().max() == 0 and b_grad[-1].abs().max() == 0
    for i in range(num_latents - 1):
        assert w_grad[i].abs().max() > 0, f'latent {i} gets no gradient'


def test_bank_stays_frozen_after_train_and_to(device):
    model = GLEANNet(**TINY).train().to(device)
    assert not any(p.requires_grad for p in model.generator.parameters())
    # everything that affects the output stays trainable (fusion_skip does
    # not affect it and may be frozen or not)
    assert all(p.requires_grad for n, p in model.named_parameters()
               if not n.startswith(('generator.', 'fusion_skip.')))


# --------------------------------------------------------------------------- #
# layout and registry
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('kwargs', [
    dict(in_size=8, out_size=64, **SMALL),
    dict(in_size=4, out_size=32, **SMALL),
    dict(in_size=16, out_size=128, style_channels=32, num_rrdbs=2,
         rrdb_channels=16, channel_multiplier=2, img_channels=1,
         num_mlps=3),
    dict(in_size=16, out_size=64, style_channels=STYLE, num_rrdbs=1,
         rrdb_channels=8, channel_multiplier=4),
],
                         ids=['8to64', '4to32', '16to128-cm2-gray',
                              '16to64-cm4'])
def test_state_dict_layout_equals_mmagic(kwargs):
    ours = GLEANNet(**kwargs)
    ref = GLEANStyleGANv2(**kwargs)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert shapes(ours.state_dict()) == shapes(ref.state_dict())
    params = [n for n, _ in ours.named_parameters()]
    assert params == [n for n, _ in ref.named_parameters()]
    if kwargs.get('img_channels') == 1:
        out = ours.eval()(torch.rand(1, 1, 16, 16))
        assert out.shape == (1, 1, 128, 128)


def test_published_checkpoint_layout_32_to_256():
    """GLEANNet(32, 256) with defaults has exactly the keys and shapes of
    MMagic's GLEANStyleGANv2(32, 256) (e.g. glean_cat_8x_20210614-d3ac8683.pth
    loads strictly)."""
    ref_shapes = shapes(GLEANStyleGANv2(32, 256).state_dict())
    ours = GLEANNet(32, 256)
    our_shapes = shapes(ours.state_dict())
    assert list(our_shapes) == list(ref_shapes)
    assert our_shapes == ref_shapes
    assert len(ref_shapes) == 873
    # the published checkpoint's encoder: 23 RRDBs of 64 channels
    assert our_shapes['encoder.0.0.conv_first.weight'] == (64, 3, 3, 3)
    assert 'encoder.0.0.body.22.rdb3.conv5.weight' in our_shapes
    assert our_shapes['encoder.4.3.weight'] == (14 * 512, 16 * 512)


def test_build_through_mmagic_registry():
    model = MODELS.build(dict(type='GLEANNet', **TINY))
    assert type(model) is GLEANNet
    assert model.in_size == 8 and model.out_size == 32
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)


# --------------------------------------------------------------------------- #
# latent bank loading
# --------------------------------------------------------------------------- #
def _bank_state(out_size=32, style_channels=STYLE, max_channels=32, seed=1):
    torch.manual_seed(seed)
    bank = StyleGAN2LatentBank(out_size, style_channels=style_channels,
                               max_channels=max_channels)
    return randomize_state_dict(bank.state_dict(), seed=seed)


def _save_stylegan2_ckpt(path, ema_state, gen_state=None):
    """MMagic StyleGAN2 checkpoint layout: generator, generator_ema and
    discriminator under one 'state_dict'."""
    if gen_state is None:
        gen_state = {k: v * 1.5 + 0.25 for k, v in ema_state.items()}
    state = {f'generator.{k}': v for k, v in gen_state.items()}
    state.update({f'generator_ema.{k}': v for k, v in ema_state.items()})
    state['discriminator.convs.0.weight'] = torch.randn(4, 3, 1, 1)
    torch.save({'meta': {'epoch': 1}, 'state_dict': state}, path)
    return gen_state


@pytest.fixture
def stylegan2_ckpt(tmp_path):
    ema = _bank_state()
    path = tmp_path / 'stylegan2_ckpt.pth'
    gen = _save_stylegan2_ckpt(path, ema)
    return dict(path=str(path), ema=ema, gen=gen)


def _assert_bank_is(model, expected, other=None):
    bank = model.generator.state_dict()
    assert list(bank) == list(expected)
    for k, v in bank.items():
        assert torch.equal(v.cpu(), expected[k]), f'{k} not loaded'
        if other is not None:
            assert not torch.equal(v.cpu(), other[k]), f'{k} from wrong prefix'


def test_init_cfg_pretrained_loads_ema_bank(stylegan2_ckpt):
    model = GLEANNet(**TINY, init_cfg=dict(type='Pretrained',
                                           checkpoint=stylegan2_ckpt['path'],
                                           prefix='generator_ema'))
    before = {k: v.clone() for k, v in model.state_dict().items()
              if not k.startswith('generator.')}
    model.init_weights()
    _assert_bank_is(model, stylegan2_ckpt['ema'], stylegan2_ckpt['gen'])
    # nothing else touched
    for k, v in before.items():
        assert torch.equal(model.state_dict()[k], v), k
    assert not any(p.requires_grad for p in model.generator.parameters())


def test_init_cfg_pretrained_generator_prefix(stylegan2_ckpt):
    model = GLEANNet(**TINY, init_cfg=dict(type='Pretrained',
                                           checkpoint=stylegan2_ckpt['path'],
                                           prefix='generator'))
    model.init_weights()
    _assert_bank_is(model, stylegan2_ckpt['gen'], stylegan2_ckpt['ema'])


def test_pretrained_argument_loads_ema_bank(stylegan2_ckpt):
    model = GLEANNet(**TINY, pretrained=stylegan2_ckpt['path'])
    _assert_bank_is(model, stylegan2_ckpt['ema'], stylegan2_ckpt['gen'])
    model2 = GLEANNet(**TINY, pretrained=stylegan2_ckpt['path'],
                      pretrained_prefix='generator')
    _assert_bank_is(model2, stylegan2_ckpt['gen'], stylegan2_ckpt['ema'])


def test_load_latent_bank_plain_state_dict(tmp_path):
    state = _bank_state(seed=3)
    path = tmp_path / 'bank.pth'
    torch.save(state, path)
    model = GLEANNet(**TINY)
    model.load_latent_bank(str(path), prefix=None)
    _assert_bank_is(model, state)


def test_init_cfg_list_with_kaiming_and_pretrained(stylegan2_ckpt):
    model = GLEANNet(**TINY, init_cfg=[
        dict(type='Kaiming', layer='Conv2d'),
        dict(type='Pretrained', checkpoint=stylegan2_ckpt['path'],
             prefix='generator_ema')
    ])
    model.load_state_dict(randomize_state_dict(model.state_dict(), seed=4))
    conv_keys = [f'{n}.{p}' for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Conv2d) for p in ('weight', 'bias')]
    assert len(conv_keys) > 10
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert all(before[k].abs().max() > 0 for k in conv_keys if 'bias' in k)
    model.init_weights()
    after = model.state_dict()
    _assert_bank_is(model, stylegan2_ckpt['ema'], stylegan2_ckpt['gen'])
    for k in conv_keys:  # Kaiming re-initialised every Conv2d (bias -> 0)
        assert not torch.equal(after[k], before[k]), k
        if k.endswith('bias'):
            assert after[k].abs().max() == 0, k
    # the Linear layer is not a Conv2d: untouched
    assert torch.equal(after['encoder.2.3.weight'],
                       before['encoder.2.3.weight'])


def test_bank_from_mmagic_generator_checkpoint(tmp_path):
    """A checkpoint written from MMagic's own StyleGAN2 generators."""
    def mm_state(seed):
        torch.manual_seed(seed)
        gen = MODELS.build(dict(type='StyleGANv2Generator', out_size=16,
                                style_channels=STYLE, channel_multiplier=1))
        return randomize_state_dict(gen.state_dict(), seed=seed)

    ema, gen = mm_state(1), mm_state(2)
    path = tmp_path / 'mmagic_stylegan2.pth'
    _save_stylegan2_ckpt(path, ema, gen)
    model = GLEANNet(8, 16, **SMALL, init_cfg=dict(
        type='Pretrained', checkpoint=str(path), prefix='generator_ema'))
    model.init_weights()
    _assert_bank_is(model, ema)
    differs = [k for k in ema if not torch.equal(ema[k], gen[k])]
    assert len(differs) > 0.8 * len(ema)
    for k in differs:
        assert not torch.equal(model.generator.state_dict()[k], gen[k])


def test_whole_backbone_checkpoint(tmp_path, device):
    """A GLEAN backbone saved under 'generator.' (MMagic's SRGAN layout)."""
    torch.manual_seed(11)
    src = GLEANNet(**TINY).eval()
    src.load_state_dict(randomize_state_dict(src.state_dict(), seed=11))
    state = {f'generator.{k}': v for k, v in src.state_dict().items()}
    state['discriminator.conv.weight'] = torch.randn(2, 3, 3, 3)
    path = tmp_path / 'glean_backbone.pth'
    torch.save({'state_dict': state}, path)

    for init_cfg in (
            dict(type='Pretrained', checkpoint=str(path), prefix='generator'),
        [dict(type='Kaiming', layer='Conv2d'),
         dict(type='Pretrained', checkpoint=str(path), prefix='generator')]):
        torch.manual_seed(12)
        model = GLEANNet(**TINY, init_cfg=init_cfg)
        model.init_weights()
        loaded = model.state_dict()
        assert list(loaded) == list(src.state_dict())
        for k, v in src.state_dict().items():
            assert torch.equal(loaded[k], v), k
        model = model.to(device).eval()
        x = torch.rand(1, 3, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(model(x.to(device)).cpu(), src(x))


# --------------------------------------------------------------------------- #
# loading errors
# --------------------------------------------------------------------------- #
def _pretrained(path, prefix='generator_ema'):
    return dict(type='Pretrained', checkpoint=str(path), prefix=prefix)


def test_error_partial_bank(tmp_path):
    ema = _bank_state()
    dropped = ['convs.1.conv.weight_orig', 'style_mapping.3.bias',
               'injected_noise_2']
    partial = {k: v for k, v in ema.items() if k not in dropped}
    path = tmp_path / 'partial.pth'
    _save_stylegan2_ckpt(path, partial)
    model = GLEANNet(**TINY, init_cfg=_pretrained(path))
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as info:
        model.init_weights()
    msg = str(info.value)
    assert f'missing 3 of {len(ema)} keys' in msg
    for key in dropped:
        assert key in msg
    assert str(path) in msg and 'latent bank' in msg
    # nothing was loaded
    for k, v in model.generator.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_error_bank_of_other_out_size(tmp_path):
    path = tmp_path / 'bank64.pth'
    _save_stylegan2_ckpt(path, _bank_state(out_size=64))
    model = GLEANNet(**TINY)
    with pytest.raises(CheckpointMismatchError,
                       match=r'unexpected \d+ keys: .*convs\.6\.'):
        model.load_latent_bank(str(path))


def test_error_bank_of_other_style_channels(tmp_path):
    path = tmp_path / 'bank_style32.pth'
    _save_stylegan2_ckpt(path, _bank_state(style_channels=32))
    model = GLEANNet(**TINY, init_cfg=_pretrained(path))
    with pytest.raises(CheckpointMismatchError) as info:
        model.init_weights()
    msg = str(info.value)
    assert 'shape mismatch in 27 keys' in msg
    assert ('conv1.conv.style_modulation.linear.weight_orig (checkpoint '
            '(32, 32), expected (32, 16))') in msg
    assert 'style_mapping.1.bias (checkpoint (32,), expected (16,))' in msg
    assert '... and 19 more' in msg
    assert 'missing' not in msg and 'unexpected' not in msg


def test_error_bank_of_other_channels(tmp_path):
    path = tmp_path / 'bank_ch16.pth'
    _save_stylegan2_ckpt(path, _bank_state(max_channels=16))
    with pytest.raises(CheckpointMismatchError,
                       match=r'shape mismatch.*conv1\.conv\.weight_orig'):
        GLEANNet(**TINY, pretrained=str(path))


def test_error_prefix_not_present(stylegan2_ckpt):
    model = GLEANNet(**TINY, init_cfg=_pretrained(stylegan2_ckpt['path'],
                                                  'ema_generator'))
    with pytest.raises(CheckpointMismatchError) as info:
        model.init_weights()
    msg = str(info.value)
    assert "no key under prefix 'ema_generator'" in msg
    assert 'discriminator, generator, generator_ema' in msg


def test_error_missing_file(tmp_path):
    path = tmp_path / 'does_not_exist.pth'
    model = GLEANNet(**TINY, init_cfg=_pretrained(path))
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        model.init_weights()
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        GLEANNet(**TINY, pretrained=str(path))


def test_error_not_a_checkpoint(tmp_path):
    path = tmp_path / 'garbage.pth'
    path.write_bytes(os.urandom(4096))
    model = GLEANNet(**TINY, init_cfg=_pretrained(path))
    with pytest.raises(CheckpointMismatchError,
                       match=r'could not read checkpoint .*garbage\.pth'):
        model.init_weights()


def test_error_checkpoint_is_not_a_dict(tmp_path):
    path = tmp_path / 'list.pth'
    torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointMismatchError, match='holds a list'):
        GLEANNet(**TINY, pretrained=str(path))


def test_error_pretrained_without_checkpoint():
    model = GLEANNet(**TINY, init_cfg=dict(type='Pretrained'))
    with pytest.raises(ValueError, match="needs a 'checkpoint'"):
        model.init_weights()


def test_error_backbone_checkpoint_mismatch(tmp_path):
    src = GLEANNet(**dict(TINY, num_rrdbs=2))
    path = tmp_path / 'glean2.pth'
    torch.save({'state_dict': {f'generator.{k}': v
                               for k, v in src.state_dict().items()}}, path)
    model = GLEANNet(**TINY, init_cfg=_pretrained(path, 'generator'))
    with pytest.raises(CheckpointMismatchError,
                       match=r'GLEAN backbone:\n  unexpected \d+ keys: '
                       r'encoder\.0\.0\.body\.1\.'):
        model.init_weights()


# --------------------------------------------------------------------------- #
# input and argument validation
# --------------------------------------------------------------------------- #
@pytest.fixture(scope='module')
def tiny_model():
    return GLEANNet(**TINY).eval()


@pytest.mark.parametrize('shape,msg', [
    ((1, 3, 16, 16), 'inputs of in_size 8x8, got 16x16'),
    ((1, 3, 8, 16), 'inputs of in_size 8x8, got 8x16'),
    ((2, 3, 4, 8), 'inputs of in_size 8x8, got 4x8'),
    ((1, 1, 8, 8), 'expects 3 input channels, got 1'),
    ((1, 4, 8, 8), 'expects 3 input channels, got 4'),
    ((3, 8, 8), r'expects a \(N, 3, 8, 8\) tensor, got \(3, 8, 8\)'),
    ((1, 1, 3, 8, 8),
     r'expects a \(N, 3, 8, 8\) tensor, got \(1, 1, 3, 8, 8\)'),
])
def test_input_validation(tiny_model, shape, msg):
    with pytest.raises(ValueError, match=msg):
        tiny_model(torch.zeros(shape))


def test_input_validation_non_tensor(tiny_model):
    with pytest.raises(ValueError, match='got ndarray'):
        tiny_model(torch.zeros(1, 3, 8, 8).numpy())


@pytest.mark.parametrize('kwargs,msg', [
    (dict(in_size=32, out_size=32), 'in_size must be smaller than out_size'),
    (dict(in_size=64, out_size=32), 'in_size must be smaller than out_size'),
    (dict(in_size=12, out_size=64), 'in_size must be a power of two >= 4, '
     'got 12'),
    (dict(in_size=8, out_size=48), 'out_size must be a power of two >= 4, '
     'got 48'),
    (dict(in_size=2, out_size=32), 'in_size must be a power of two >= 4, '
     'got 2'),
    (dict(in_size=0, out_size=32), 'in_size must be a power of two'),
    (dict(in_size=8.0, out_size=32), 'in_size must be a power of two'),
    (dict(default_style_mode='mixed'), "default_style_mode must be one of "
     r"\('mix', 'single'\), got 'mixed'"),
    (dict(eval_style_mode='all'), 'eval_style_mode must be one of'),
    (dict(mix_prob=1.5), r'mix_prob must be in \[0, 1\], got 1.5'),
    (dict(mix_prob=-0.1), r'mix_prob must be in \[0, 1\], got -0.1'),
    (dict(img_channels=0), 'img_channels must be a positive int'),
])
def test_constructor_validation(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        GLEANNet(**dict(TINY, **kwargs))


@pytest.mark.parametrize('mix_prob', [0, 1, 0.9])
def test_constructor_accepts_valid_style_args(mix_prob):
    model = GLEANNet(**TINY, mix_prob=mix_prob, default_style_mode='single',
                     eval_style_mode='mix', bgr2rgb=True)
    assert model.mix_prob == mix_prob
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 32, 32)


# --------------------------------------------------------------------------- #
# fp16
# --------------------------------------------------------------------------- #
def test_fp16_enabled_close_to_fp32(device):
    torch.manual_seed(21)
    kw = dict(SMALL, in_size=8, out_size=64)
    fp32 = GLEANNet(**kw).eval()
    fp32.load_state_dict(randomize_state_dict(fp32.state_dict(), seed=21))
    fp16 = GLEANNet(**kw, fp16_enabled=True).eval()
    fp16.load_state_dict(fp32.state_dict(), strict=True)
    fp32, fp16 = fp32.to(device), fp16.to(device)

    dtypes = []
    hook = fp16.generator.convs[0].conv.register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype))
    x = torch.rand(2, 3, 8, 8, device=device)
    with torch.no_grad():
        a = fp32(x)
        b = fp16(x)
    hook.remove()
    assert dtypes == [torch.float16], (
        f'fp16_enabled did not run the bank in float16 on {device.type}: '
        f'{dtypes}')
    assert b.dtype == torch.float32
    assert torch.isfinite(b).all()
    assert not torch.equal(a, b)
    assert_rel_close(b, a, 2e-2)
