"""GLEANNet's ablation switches: each changes exactly the paths it names
(checked through gradients, perturbations and outputs), the defaults are
GLEAN, and every variant keeps the checkpoint layout."""
import pytest
import torch
from mmagic.models.editors.glean.glean_styleganv2 import GLEANStyleGANv2

from glean_plugin import GLEANNet
from tests.support.helpers import randomize_state_dict, shapes

STYLE = 16
# 16 -> 64: encoder features fused at 4, 8, 16; bank features read by the
# decoder at 32, 64; 10 latents.
TINY = dict(in_size=16, out_size=64, style_channels=STYLE, num_rrdbs=1,
            rrdb_channels=8, max_channels=16)
NUM_LATENTS = 10
# fusion_out.k fuses at resolution 4 * 2**k
FUSION_RES = {0: 4, 1: 8, 2: 16}
# the bank's two convs at resolution 2**k are convs.2(k-3) and convs.2(k-3)+1
BANK_CONVS = {8: (0, 1), 16: (2, 3), 32: (4, 5), 64: (6, 7)}


@pytest.fixture(scope='module')
def state():
    """One set of random weights (biases and noise strengths too) that
    every variant loads."""
    torch.manual_seed(0)
    return randomize_state_dict(GLEANNet(**TINY).state_dict(), seed=0)


def build(state, device, **switches):
    model = GLEANNet(**TINY, **switches)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


@pytest.fixture(scope='module')
def lq():
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def run(model, lq, device):
    with torch.no_grad():
        return model(lq.to(device)).cpu()


def grads(model, lq, device):
    """name -> whether the parameter gets a non-zero gradient."""
    model.train()
    out = model(lq.to(device))
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    (out * weight.to(device)).sum().backward()
    return {n: p.grad is not None and bool(p.grad.abs().max() > 0)
            for n, p in model.named_parameters()}


def trained(flags, prefix):
    return {n for n, g in flags.items() if g and n.startswith(prefix)}


def names(model, prefix):
    return {n for n, _ in model.named_parameters() if n.startswith(prefix)}


def latent_rows_with_grad(model):
    """Indices of the latents whose rows of the encoder's final linear
    layer get a gradient."""
    grad = model.encoder[-1][-1].weight.grad
    if grad is None:
        return set()
    rows = grad.view(NUM_LATENTS, STYLE, -1).abs().amax(dim=(1, 2))
    return {i for i in range(NUM_LATENTS) if rows[i] > 0}


def perturb_(params, seed=3):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in params:
            p.add_(0.5 * torch.randn(p.shape, generator=gen).to(p))


# --------------------------------------------------------------------------- #
# defaults and layout
# --------------------------------------------------------------------------- #
def test_defaults_are_full_glean(state, lq, device):
    out = run(build(state, device), lq, device)
    explicit = build(state, device, encoder_fusion_res=16,
                     decoder_bank_res=64, use_decoder=True, in_shape=None)
    none = build(state, device, encoder_fusion_res=None,
                 decoder_bank_res=None)
    assert torch.equal(run(explicit, lq, device), out)
    assert torch.equal(run(none, lq, device), out)
    assert explicit.encoder_fusion_res == 16
    assert explicit.decoder_bank_res == 64 and explicit.use_decoder


SWITCHES = [
    dict(encoder_fusion_res=0), dict(encoder_fusion_res=4),
    dict(encoder_fusion_res=8), dict(decoder_bank_res=0),
    dict(decoder_bank_res=32), dict(use_decoder=False),
    dict(encoder_fusion_res=0, use_decoder=False),
    dict(encoder_fusion_res=8, decoder_bank_res=32),
]
SWITCH_IDS = ['-'.join(f'{k}={v}' for k, v in s.items()) for s in SWITCHES]


@pytest.mark.parametrize('switches', SWITCHES, ids=SWITCH_IDS)
def test_switches_keep_the_checkpoint_layout(switches, state, lq, device):
    """Same keys and shapes as MMagic's GLEANStyleGANv2: its checkpoints
    load strictly into every variant, which runs and changes the output."""
    model = build(state, device, **switches)  # strict load
    ref = GLEANStyleGANv2(**{k: v for k, v in TINY.items()
                             if k != 'max_channels'}, channel_multiplier=1)
    ours_plain = GLEANNet(**{k: v for k, v in TINY.items()
                             if k != 'max_channels'}, channel_multiplier=1,
                          **switches)
    assert list(ours_plain.state_dict()) == list(ref.state_dict())
    assert shapes(ours_plain.state_dict()) == shapes(ref.state_dict())
    assert shapes(model.state_dict()) == shapes(state)
    out = run(model, lq, device)
    assert out.shape == (2, 3, 64, 64) and torch.isfinite(out).all()
    assert not torch.equal(out, run(build(state, device), lq, device))


# --------------------------------------------------------------------------- #
# encoder features into the bank
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('res', [0, 4, 8, 16])
def test_encoder_fusion_res_gradients(res, state, lq, device):
    model = build(state, device, encoder_fusion_res=res)
    flags = grads(model, lq, device)
    fused = {f'fusion_out.{k}.{p}' for k, r in FUSION_RES.items() if r <= res
             for p in ('weight', 'bias')}
    assert trained(flags, 'fusion_out.') == fused
    # the encoder still makes the latent codes and the decoder's input
    assert trained(flags, 'encoder.') == names(model, 'encoder.')
    assert trained(flags, 'decoder.') == names(model, 'decoder.')
    assert not trained(flags, 'generator.') | trained(flags, 'fusion_skip.')
    # every latent but the last (the final to-RGB's) drives the bank
    assert latent_rows_with_grad(model) == set(range(NUM_LATENTS - 1))


@pytest.mark.parametrize('res', [0, 8])
def test_encoder_features_above_fusion_res_do_not_matter(res, state, lq,
                                                         device):
    model = build(state, device, encoder_fusion_res=res)
    out = run(model, lq, device)
    # perturb the encoder features the bank would fuse above res (16 is
    # also the decoder's input: not perturbed), keeping the latent codes
    encode = model.encode

    def perturbed_encode(x, above=res):
        feats, latents = encode(x)
        return {r: f + 1 if above < r < 16 else f
                for r, f in feats.items()}, latents

    model.encode = perturbed_encode
    assert torch.equal(run(model, lq, device), out)
    perturb_([p for k, r in FUSION_RES.items() if r > res
              for p in model.fusion_out[k].parameters()])
    assert torch.equal(run(model, lq, device), out)
    if res:  # those at or below res do matter
        perturb_(model.fusion_out[1].parameters())
        assert not torch.equal(run(model, lq, device), out)


def test_latent_codes_only_is_the_plain_bank(state, lq, device):
    """encoder_fusion_res=0 and use_decoder=False: StyleGAN2's image from
    the encoder's latent codes, nothing else."""
    model = build(state, device, encoder_fusion_res=0, use_decoder=False)
    with torch.no_grad():
        _, latents = model.encode(lq.to(device))
        expected = model.generator(latents, return_rgb=True)[1]
        assert torch.equal(model(lq.to(device)), expected)


# --------------------------------------------------------------------------- #
# bank features into the decoder
# --------------------------------------------------------------------------- #
def _bank_input_grads(model):
    """res -> whether the decoder's weights that read the bank's features
    at res get a gradient (the second half of their input channels)."""
    out = {}
    for res, block in zip(model.decoder_res, model.decoder):
        if res > model.in_size:
            conv = getattr(block, 'upsample_conv', None) or block[0]
            half = conv.weight.shape[1] // 2
            out[res] = bool(conv.weight.grad[:, half:].abs().max() > 0)
    return out


def test_no_bank_features_is_an_encoder_decoder(state, lq, device):
    model = build(state, device, decoder_bank_res=0)
    flags = grads(model, lq, device)
    # only the RRDB trunk at in_size and the decoder affect the output
    assert {n for n, g in flags.items() if g} == (
        names(model, 'encoder.0.') | names(model, 'decoder.'))
    assert _bank_input_grads(model) == {32: False, 64: False}
    model.eval()
    out = run(model, lq, device)
    perturb_(model.generator.parameters())
    perturb_([*model.encoder[1:].parameters(), *model.fusion_out.parameters()])
    assert torch.equal(run(model, lq, device), out)


def test_bank_features_up_to_32(state, lq, device):
    model = build(state, device, decoder_bank_res=32)
    flags = grads(model, lq, device)
    assert _bank_input_grads(model) == {32: True, 64: False}
    assert trained(flags, 'fusion_out.') == names(model, 'fusion_out.')
    assert trained(flags, 'encoder.') == names(model, 'encoder.')
    # the bank up to 32 (resolution 2**5) uses latents 0 .. 2 * 5 - 4
    assert latent_rows_with_grad(model) == set(range(7))
    model.eval()
    out = run(model, lq, device)
    # the bank's 64x64 layers (and their noise) no longer matter...
    convs = [model.generator.convs[i] for i in BANK_CONVS[64]]
    perturb_([p for c in convs for p in c.parameters()])
    for i in (7, 8):  # noise maps of the two convs at 64x64
        model.generator.injected_noise(i).normal_()
    assert torch.equal(run(model, lq, device), out)
    # ...its 32x32 layers do
    perturb_(model.generator.convs[BANK_CONVS[32][1]].parameters())
    assert not torch.equal(run(model, lq, device), out)


def test_default_reads_every_bank_feature(state, lq, device):
    model = build(state, device)
    grads(model, lq, device)
    assert _bank_input_grads(model) == {32: True, 64: True}


# --------------------------------------------------------------------------- #
# no decoder
# --------------------------------------------------------------------------- #
def test_no_decoder_returns_the_banks_rgb(state, lq, device):
    model = build(state, device, use_decoder=False)
    flags = grads(model, lq, device)
    assert not trained(flags, 'decoder.')
    assert trained(flags, 'encoder.') == names(model, 'encoder.')
    assert trained(flags, 'fusion_out.') == names(model, 'fusion_out.')
    assert not trained(flags, 'generator.') | trained(flags, 'fusion_skip.')
    # the final to-RGB layer's latent now matters too
    assert latent_rows_with_grad(model) == set(range(NUM_LATENTS))

    model.eval()
    out = run(model, lq, device)
    assert out.shape == (2, 3, 64, 64)
    perturb_(model.decoder.parameters())
    assert torch.equal(run(model, lq, device), out)
    perturb_(model.generator.to_rgbs[-1].parameters())
    assert not torch.equal(run(model, lq, device), out)


def test_to_rgb_does_not_matter_with_the_decoder(state, lq, device):
    model = build(state, device)
    out = run(model, lq, device)
    perturb_(model.generator.to_rgbs.parameters())
    assert torch.equal(run(model, lq, device), out)


def test_no_decoder_bgr2rgb_flips_channels(state, lq, device):
    rgb = run(build(state, device, use_decoder=False), lq, device)
    bgr = run(build(state, device, use_decoder=False, bgr2rgb=True), lq,
              device)
    assert torch.equal(bgr, rgb.flip(1))
    # with the decoder bgr2rgb changes nothing (as MMagic's GLEAN)
    assert torch.equal(run(build(state, device, bgr2rgb=True), lq, device),
                       run(build(state, device), lq, device))


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('kwargs,msg', [
    (dict(encoder_fusion_res=32), r'encoder_fusion_res must be None, 0 or a '
     r'power of two in \[4, 16\] \(in_size=16, out_size=64\), got 32'),
    (dict(encoder_fusion_res=2), r'encoder_fusion_res .*\[4, 16\].*got 2'),
    (dict(encoder_fusion_res=12), r'encoder_fusion_res .*got 12'),
    (dict(encoder_fusion_res=-1), r'encoder_fusion_res .*got -1'),
    (dict(encoder_fusion_res=8.0), r'encoder_fusion_res .*got 8.0'),
    (dict(encoder_fusion_res=False), r'encoder_fusion_res .*got False'),
    (dict(decoder_bank_res=16), r'decoder_bank_res must be None, 0 or a '
     r'power of two in \[32, 64\] \(in_size=16, out_size=64\), got 16'),
    (dict(decoder_bank_res=128), r'decoder_bank_res .*\[32, 64\].*got 128'),
    (dict(decoder_bank_res=48), r'decoder_bank_res .*got 48'),
    (dict(decoder_bank_res='64'), r"decoder_bank_res .*got '64'"),
    (dict(use_decoder=False, decoder_bank_res=32),
     'decoder_bank_res needs the decoder: expected None with '
     'use_decoder=False, got 32'),
    (dict(use_decoder=False, decoder_bank_res=0),
     'decoder_bank_res needs the decoder.*got 0'),
    (dict(use_decoder=False, img_channels=1),
     "returns the latent bank's RGB image: expected img_channels=3, got 1"),
])
def test_invalid_switches(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        GLEANNet(**dict(TINY, **kwargs))


@pytest.mark.parametrize('value', ['no', 0, None])
def test_use_decoder_must_be_bool(value):
    with pytest.raises(TypeError, match=f'use_decoder must be a bool, got '
                       f'{value!r}'):
        GLEANNet(**TINY, use_decoder=value)
