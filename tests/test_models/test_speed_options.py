"""Speed and memory options keep the results: on vs off, on tiny models.

float32 options must agree to 1e-4 (relative); they only reorder rounding.
Autocast tolerances are derived where they are used.
"""
import copy

import pytest
import torch
import torch.nn as nn

import glean_plugin.models.glean as glean_module
from glean_plugin import GLEANNet, StyleGAN2LatentBank
from glean_plugin.models.layers import (RRDB, RRDBFeatureExtractor, StyledConv,
                                        checkpoint_call,
                                        set_grad_checkpointing,
                                        to_channels_last_)
from glean_plugin.ops.modulated_conv import GROUPED_MIN_PIXELS
from tests.support.helpers import assert_rel_close, randomize_state_dict

REL_TOL = 1e-4
STYLE = 16
TINY = dict(in_size=8, out_size=32, style_channels=STYLE, num_rrdbs=2,
            rrdb_channels=8, max_channels=16)
CL = torch.channels_last


def tiny_glean(device, seed=0, **kw):
    torch.manual_seed(seed)
    model = GLEANNet(**{**TINY, **kw})
    model.load_state_dict(randomize_state_dict(model.state_dict(), seed))
    return model.to(device)


def lq_input(device, batch=2, size=TINY['in_size']):
    return torch.rand(batch, 3, size, size, device=device)


def train_grads(model, x, seed=0):
    """Output and the gradients of every trainable parameter for a fixed
    random projection of the output."""
    model.train()
    out = model(x)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    grads = torch.autograd.grad(out, [p for _, p in named],
                                g.to(out.device, out.dtype),
                                allow_unused=True)
    return out.detach(), {n: gr for (n, _), gr in zip(named, grads)}


def assert_grads_close(got, want, tol=REL_TOL):
    assert got.keys() == want.keys()
    assert any(g is not None and g.abs().sum() > 0 for g in want.values())
    for name in want:
        if want[name] is None:
            assert got[name] is None, name
        else:
            assert_rel_close(got[name], want[name], tol, name)


def saved_activation_bytes(fn):
    """Bytes of the tensors autograd keeps for the backward pass of fn()."""
    total = [0]
    seen = set()

    def pack(t):
        key = (t.data_ptr(), t.numel())
        if key not in seen:
            seen.add(key)
            total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, total[0]


# --------------------------------------------------------------------------- #
# inference fast paths (in place when autograd records nothing)
# --------------------------------------------------------------------------- #
def test_no_grad_output_equals_autograd_output(device):
    """In-place epilogues, residuals and demodulation under no_grad give the
    autograd path's values."""
    model = tiny_glean(device).eval()
    x = lq_input(device)
    with_graph = model(x)
    assert with_graph.requires_grad
    with torch.no_grad():
        plain = model(x)
    with torch.inference_mode():
        inference = model(x)
    assert_rel_close(plain, with_graph.detach(), REL_TOL, 'no_grad')
    assert_rel_close(inference, with_graph.detach(), REL_TOL,
                     'inference_mode')


@pytest.mark.parametrize('upsample', [False, True])
def test_fast_epilogue_equals_reference_styled_conv(upsample, device):
    torch.manual_seed(0)
    fast = StyledConv(4, 5, 3, STYLE, upsample=upsample)
    fast.load_state_dict(randomize_state_dict(fast.state_dict()))
    ref = copy.deepcopy(fast)
    ref.epilogue_impl = 'reference'
    fast, ref = fast.to(device), ref.to(device)
    x = torch.randn(2, 4, 6, 6, device=device)
    w = torch.randn(2, STYLE, device=device)
    size = 12 if upsample else 6
    noise = torch.randn(1, 1, size, size, device=device)
    results = {}
    for name, module in (('fast', fast), ('reference', ref)):
        xs, ws = x.clone().requires_grad_(), w.clone().requires_grad_()
        out = module(xs, ws, noise)
        grads = torch.autograd.grad(out.square().sum(), (xs, ws))
        results[name] = (out.detach(), *grads)
    for what, a, b in zip(('output', 'd/dx', 'd/dw'), results['fast'],
                          results['reference']):
        assert_rel_close(a, b, REL_TOL, what)


def test_styled_conv_rejects_unknown_epilogue_impl():
    with pytest.raises(ValueError, match="epilogue_impl must be one of"):
        StyledConv(4, 4, 3, STYLE, epilogue_impl='fused')


def test_rrdb_inplace_residuals_keep_gradients(device):
    """The in-place residual additions are autograd-safe: gradients equal
    those of the out-of-place formula x + 0.2 * f(x)."""
    torch.manual_seed(0)
    block = RRDB(8, 4).to(device).train()
    x = torch.randn(2, 8, 5, 5, device=device, requires_grad=True)
    got = torch.autograd.grad(block(x).square().sum(),
                              [x, *block.parameters()])

    def out_of_place(x):
        y = x
        for rdb in (block.rdb1, block.rdb2, block.rdb3):
            feats = [y]
            for i in range(1, 5):
                conv = getattr(rdb, f'conv{i}')
                feats.append(nn.functional.leaky_relu(
                    conv(torch.cat(feats, 1)), 0.2))
            y = y + 0.2 * rdb.conv5(torch.cat(feats, 1))
        return x + 0.2 * y

    want = torch.autograd.grad(out_of_place(x).square().sum(),
                               [x, *block.parameters()])
    for g, w in zip(got, want):
        assert_rel_close(g, w, REL_TOL)


# --------------------------------------------------------------------------- #
# modulated-conv formulation 'auto'
# --------------------------------------------------------------------------- #
def test_modconv_auto_equals_scaled_model(device):
    """The bank reaches GROUPED_MIN_PIXELS, so 'auto' runs 'grouped' there
    (no autograd) and 'scaled' below; same output as all-'scaled'."""
    out_size = 2 * int(GROUPED_MIN_PIXELS**0.5)
    kw = dict(in_size=16, out_size=out_size, max_channels=4, num_rrdbs=1)
    scaled = tiny_glean(device, modconv_impl='scaled', **kw).eval()
    auto = tiny_glean(device, modconv_impl='auto', **kw).eval()
    x = lq_input(device, size=16)
    with torch.no_grad():
        assert_rel_close(auto(x), scaled(x), REL_TOL, 'auto vs scaled')


# --------------------------------------------------------------------------- #
# channels_last
# --------------------------------------------------------------------------- #
def test_to_channels_last_converts_4d_tensors_in_place():
    model = GLEANNet(**TINY)
    params = dict(model.named_parameters())
    assert to_channels_last_(model) is model
    for name, p in model.named_parameters():
        assert p is params[name], name  # optimizers stay valid
        if p.ndim == 4 and p.shape[1] > 1 and p.shape[2:] != (1, 1):
            assert p.is_contiguous(memory_format=CL), name
            assert not p.is_contiguous(), name
    # 5D StyleGAN2 weights are left alone (nn.Module.to refuses them)
    assert model.generator.conv1.conv.weight_orig.is_contiguous()
    # loading a state dict keeps the layout
    model.load_state_dict(GLEANNet(**TINY).state_dict())
    assert model.decoder[0].upsample_conv.weight.is_contiguous(
        memory_format=CL)


@pytest.mark.parametrize('input_format', [torch.contiguous_format, CL])
def test_channels_last_model_equals_contiguous(input_format, device):
    """GLEANNet's default (channels_last inside) against NCHW: same output
    and gradients, for inputs of either layout; the output is NCHW."""
    ref = tiny_glean(device, channels_last=False)
    fast = tiny_glean(device)
    assert fast.channels_last and not ref.channels_last
    assert fast.decoder[0].upsample_conv.weight.is_contiguous(
        memory_format=CL)
    assert ref.decoder[0].upsample_conv.weight.is_contiguous()
    x = lq_input(device)
    xf = x.contiguous(memory_format=input_format)
    with torch.no_grad():
        out = fast.eval()(xf)
        assert out.is_contiguous()
        assert_rel_close(out, ref.eval()(x), REL_TOL, 'inference')
    out_cl, grads_cl = train_grads(fast, xf)
    out, grads = train_grads(ref, x)
    assert_rel_close(out_cl, out, REL_TOL, 'training output')
    assert_grads_close(grads_cl, grads)
    # optimizer state follows the parameters' layout
    fast.zero_grad()
    fast(xf).square().mean().backward()
    weight = fast.decoder[0].upsample_conv.weight
    assert weight.grad.is_contiguous(memory_format=CL)


def test_channels_last_keeps_state_dict_and_loads_both_ways():
    cl, plain = GLEANNet(**TINY), GLEANNet(**TINY, channels_last=False)
    state = cl.state_dict()
    assert state.keys() == plain.state_dict().keys()
    plain.load_state_dict(state, strict=True)
    cl.load_state_dict(plain.state_dict(), strict=True)
    weight = cl.decoder[0].upsample_conv.weight
    assert weight.is_contiguous(memory_format=CL)
    for name, tensor in plain.state_dict().items():
        assert torch.equal(tensor, cl.state_dict()[name]), name


# --------------------------------------------------------------------------- #
# gradient checkpointing
# --------------------------------------------------------------------------- #
def test_rrdb_with_cp_same_output_and_gradients(device):
    torch.manual_seed(0)
    plain = RRDBFeatureExtractor(3, 8, num_blocks=2, growth_channels=4)
    cp = copy.deepcopy(plain)
    assert set_grad_checkpointing(cp) == 2
    assert all(block.with_cp for block in cp.body)
    assert RRDBFeatureExtractor(3, 8, 1, 4, with_cp=True).body[0].with_cp
    x = torch.randn(2, 3, 6, 6, device=device)
    out_cp, grads_cp = train_grads(cp.to(device), x)
    out, grads = train_grads(plain.to(device), x)
    assert_rel_close(out_cp, out, REL_TOL)
    assert_grads_close(grads_cp, grads)


@pytest.mark.parametrize('randomize_noise', [False, True])
def test_bank_with_cp_same_features_and_gradients(randomize_noise, device):
    """Also with random noise: the recomputation draws the same noise."""
    torch.manual_seed(0)
    plain = StyleGAN2LatentBank(32, style_channels=STYLE, max_channels=8)
    plain.load_state_dict(randomize_state_dict(plain.state_dict()))
    cp = copy.deepcopy(plain)
    cp.with_cp = True
    latents = torch.randn(2, plain.num_latents, STYLE, device=device)
    fused_in = torch.randn(2, 8, 8, 8, device=device)
    results = {}
    for name, bank in (('plain', plain), ('cp', cp)):
        lat = latents.clone().requires_grad_()
        enc = fused_in.clone().requires_grad_()

        def fuse(res, feat, enc=enc):
            return feat + enc if res == 8 else feat

        torch.manual_seed(1)
        feats = bank.to(device)(lat, fuse=fuse,
                                randomize_noise=randomize_noise)
        loss = sum(f.square().mean() for f in feats.values())
        grads = torch.autograd.grad(loss, (lat, enc))
        results[name] = ([feats[r].detach() for r in sorted(feats)], grads)
    for a, b in zip(results['cp'][0], results['plain'][0]):
        assert_rel_close(a, b, REL_TOL, 'features')
    for what, a, b in zip(('d/dlatents', 'd/dfused'), results['cp'][1],
                          results['plain'][1]):
        assert b.abs().sum() > 0
        assert_rel_close(a, b, REL_TOL, what)


def test_checkpoint_call_decoder_stage(device):
    """The decoder wiring: concat + block under checkpoint_call; the
    concatenated copy is not kept for the backward pass."""
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1),
                          nn.LeakyReLU(0.2, inplace=True),
                          nn.Conv2d(8, 4, 3, padding=1)).to(device)
    hr = torch.randn(2, 4, 8, 8, device=device, requires_grad=True)
    bank = torch.randn(2, 4, 8, 8, device=device, requires_grad=True)

    def stage(h, b):
        return block(torch.cat([h, b], 1))

    results = {}
    for enabled in (False, True):
        out, saved = saved_activation_bytes(
            lambda: checkpoint_call(stage, hr, bank, enabled=enabled))
        grads = torch.autograd.grad(out.square().sum(),
                                    [hr, bank, *block.parameters()])
        results[enabled] = (out.detach(), grads, saved)
    assert_rel_close(results[True][0], results[False][0], REL_TOL)
    for a, b in zip(results[True][1], results[False][1]):
        assert_rel_close(a, b, REL_TOL)
    assert results[True][2] < results[False][2] / 2
    with torch.no_grad():  # no graph: a plain call
        assert_rel_close(checkpoint_call(stage, hr, bank), results[False][0],
                         REL_TOL)


def test_glean_with_cp_same_gradients_less_memory(device):
    """``with_cp`` checkpoints the RRDBs, the bank's resolutions and the
    decoder stages: same output and gradients, fewer bytes kept for the
    backward pass; set_grad_checkpointing switches the same flags."""
    ref = tiny_glean(device)
    cp = tiny_glean(device, with_cp=True)
    assert cp.with_cp and cp.generator.with_cp
    assert all(block.with_cp for block in cp.encoder[0][0].body)
    switched = copy.deepcopy(ref)
    # GLEANNet itself (decoder), the bank and every RRDB
    assert set_grad_checkpointing(switched) == TINY['num_rrdbs'] + 2
    assert switched.with_cp and switched.generator.with_cp
    x = lq_input(device)
    (out, grads), saved = saved_activation_bytes(lambda: train_grads(ref, x))
    for model in (cp, switched):
        (out_cp, grads_cp), saved_cp = saved_activation_bytes(
            lambda: train_grads(model, x))
        assert_rel_close(out_cp, out, REL_TOL)
        assert_grads_close(grads_cp, grads)
        assert saved_cp < 0.5 * saved, (saved_cp, saved)
    with torch.no_grad():  # no graph: checkpointing changes nothing
        assert_rel_close(cp.eval()(x), ref.eval()(x), REL_TOL)


@pytest.mark.parametrize('with_cp', [False, True])
def test_glean_with_cp_checkpoints_decoder_stages(with_cp, device,
                                                  monkeypatch):
    """Each decoder stage runs under checkpoint_call, enabled by with_cp."""
    model = tiny_glean(device, with_cp=with_cp)
    calls = []
    original = glean_module.checkpoint_call

    def spy(fn, *args, enabled=True):
        calls.append(enabled)
        return original(fn, *args, enabled=enabled)

    monkeypatch.setattr(glean_module, 'checkpoint_call', spy)
    train_grads(model, lq_input(device))
    assert calls == [with_cp] * len(model.decoder)


# --------------------------------------------------------------------------- #
# autocast
# --------------------------------------------------------------------------- #
# bfloat16 keeps 8 significant bits (relative rounding 2**-9 ~ 2e-3 per op),
# float16 11 (~5e-4); through the tiny GLEAN's ~40 layers such errors add up
# like a random walk (~x6): 1.2e-2 and 3e-3, doubled for margin. Measured:
# 7e-3 and 1e-3.
AUTOCAST_TOL = {torch.bfloat16: 2.5e-2, torch.float16: 6e-3}


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_autocast_close_to_float32(dtype, device):
    if device.type == 'cpu' and dtype == torch.float16 and not hasattr(
            torch.cpu, 'amp'):
        pytest.skip('no float16 autocast on CPU in this torch')
    model = tiny_glean(device).eval()
    x = lq_input(device)
    dtypes = []
    hook = model.generator.convs[0].register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype))
    with torch.no_grad():
        ref = model(x)
        with torch.autocast(device.type, dtype=dtype):
            out = model(x)
    hook.remove()
    # the bank follows the caller's autocast (it used to switch it off)
    assert dtypes == [torch.float32, dtype]
    assert out.dtype == dtype
    assert torch.isfinite(out).all()
    assert_rel_close(out.float(), ref, AUTOCAST_TOL[dtype], str(dtype))


# Parameter gradients are sums over pixels of terms of both signs and go
# through the rounding twice (forward and backward): single small tensors
# reach 0.2 relative error. All gradients together (the update direction)
# measure 3e-2 to 4e-2 over three seeds; 0.1 means cosine > 0.995.
BF16_GRAD_TOL = 0.1


def test_autocast_training_gradients_close(device):
    model = tiny_glean(device)
    x = lq_input(device)
    _, grads = train_grads(model, x)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        _, grads_bf16 = train_grads(model, x)
    names = [n for n, g in grads.items() if g is not None]
    assert all(grads_bf16[n] is not None for n in names)
    assert_rel_close(torch.cat([grads_bf16[n].float().flatten()
                                for n in names]),
                     torch.cat([grads[n].flatten() for n in names]),
                     BF16_GRAD_TOL, 'all gradients')


# --------------------------------------------------------------------------- #
# torch.compile (a styled conv: the whole tiny GLEAN takes ~1 min to compile
# on 2 CPU cores)
# --------------------------------------------------------------------------- #
def test_compiled_styled_conv_matches_eager(device):
    pytest.importorskip('torch._inductor')
    torch.manual_seed(0)
    module = StyledConv(4, 4, 3, 8, upsample=True).to(device)
    module.load_state_dict(randomize_state_dict(module.state_dict()))
    x = torch.randn(2, 4, 8, 8, device=device)
    w = torch.randn(2, 8, device=device)
    noise = torch.randn(1, 1, 16, 16, device=device)
    compiled = torch.compile(module)
    xs = x.clone().requires_grad_()
    out = compiled(xs, w, noise)
    (grad, ) = torch.autograd.grad(out.square().sum(), xs)
    xe = x.clone().requires_grad_()
    ref = module(xe, w, noise)
    (ref_grad, ) = torch.autograd.grad(ref.square().sum(), xe)
    assert_rel_close(out.detach(), ref.detach(), REL_TOL, 'output')
    assert_rel_close(grad, ref_grad, REL_TOL, 'd/dx')
