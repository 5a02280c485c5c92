"""Rectangular inputs (``in_shape``): GLEANNet pads them to its square latent
bank and crops the output; the discriminator pads its inputs the same way;
the car config trains and is evaluated on the picture only (a tiny model
with the shapes of glean_car_8x divided by 8: 6x8 -> 48x64)."""
import os.path as osp
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from PIL import Image

from glean_plugin import GLEANDiscriminator, GLEANNet
from glean_plugin.models.glean import center_crop, center_pad
from glean_plugin.registry import MODELS
from tests.support.helpers import REPO_ROOT, randomize_state_dict, shapes

# 8 -> 64 bank; 6x8 inputs (the car's 48x64 / 8) give 48x64 outputs.
TINY = dict(in_size=8, out_size=64, style_channels=16, num_rrdbs=1,
            rrdb_channels=8, max_channels=16)
SCALE = 8


@pytest.fixture(scope='module')
def state():
    torch.manual_seed(0)
    return randomize_state_dict(GLEANNet(**TINY).state_dict(), seed=0)


def build(state, device, **kwargs):
    model = GLEANNet(**TINY, **kwargs)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def _rand(*shape):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(1))


# --------------------------------------------------------------------------- #
# GLEANNet
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('in_shape,pad', [
    ((6, 8), (0, 0, 1, 1)),    # wide, as the car: rows above and below
    ((8, 6), (1, 1, 0, 0)),    # tall: columns left and right
    ((4, 6), (1, 1, 2, 2)),    # both
    ((8, 8), (0, 0, 0, 0)),    # square: no padding
])
def test_pads_runs_the_square_glean_and_crops(in_shape, pad, state, device):
    rect = build(state, device, in_shape=in_shape)
    square = build(state, device)
    x = _rand(2, 3, *in_shape).to(device)
    with torch.no_grad():
        out = rect(x)
        ref = square(F.pad(x, pad, value=-1.0))
    h, w = in_shape
    assert rect.input_shape == in_shape
    assert rect.output_shape == (h * SCALE, w * SCALE)
    assert out.shape == (2, 3, h * SCALE, w * SCALE)
    top, left = pad[2] * SCALE, pad[0] * SCALE
    assert torch.equal(out, ref[..., top:top + h * SCALE,
                                left:left + w * SCALE])


def test_pad_value(state, device):
    model = build(state, device, in_shape=(6, 8), pad_value=0)
    x = _rand(1, 3, 6, 8).to(device)
    with torch.no_grad():
        out = model(x)
        ref = build(state, device)(F.pad(x, (0, 0, 1, 1), value=0.))
    assert torch.equal(out, ref[..., 8:56, :])
    assert model.pad_value == 0.0
    assert GLEANNet(**TINY, in_shape=(6, 8)).pad_value == -1.0  # black


def test_same_checkpoint_layout_and_gradients(state, device):
    model = build(state, device, in_shape=(6, 8))
    assert shapes(model.state_dict()) == shapes(state)
    model.train()
    x = _rand(2, 3, 6, 8).to(device).requires_grad_()
    model(x).square().mean().backward()
    # every input pixel matters, and the trainable parameters are GLEAN's
    assert (x.grad.abs() > 0).all()
    for name, p in model.named_parameters():
        if name.startswith(('generator.', 'fusion_skip.')):
            assert p.grad is None or p.grad.abs().max() == 0, name
        else:
            assert p.grad is not None and p.grad.abs().max() > 0, name


def test_with_ablation_switches(state, device):
    model = build(state, device, in_shape=(6, 8), use_decoder=False)
    with torch.no_grad():
        out = model(_rand(1, 3, 6, 8).to(device))
    assert out.shape == (1, 3, 48, 64)


def test_center_pad_and_crop():
    x = _rand(2, 3, 5, 8)
    padded = center_pad(x, 8, value=-1)
    assert padded.shape == (2, 3, 8, 8)
    assert torch.equal(padded[..., 1:6, :], x)  # odd margin: 1 above, 2 below
    assert (padded[..., :1, :] == -1).all()
    assert (padded[..., 6:, :] == -1).all()
    assert torch.equal(center_crop(padded, (5, 8)), x)
    assert torch.equal(center_crop(_rand(1, 1, 6, 10), (2, 4)),
                       _rand(1, 1, 6, 10)[..., 2:4, 3:7])


@pytest.mark.parametrize('in_shape,msg', [
    ((5, 8), r'in_shape sides must be in \[1, 8\] with 8 - side even '
     r'\(symmetric padding to 8x8\), got \(5, 8\)'),
    ((10, 8), r'in_shape sides .*got \(10, 8\)'),
    ((0, 8), r'in_shape sides .*got \(0, 8\)'),
    ((8, ), r'in_shape must be None or \(height, width\), two ints, got '
     r'\(8,\)'),
    ((6, 8, 3), r'in_shape must be .*got \(6, 8, 3\)'),
    ((6.0, 8), r'in_shape must be .*got \(6.0, 8\)'),
    ((True, 8), r'in_shape must be .*got \(True, 8\)'),
    ('6x8', r"in_shape must be .*got '6x8'"),
])
def test_invalid_in_shape(in_shape, msg):
    with pytest.raises(ValueError, match=msg):
        GLEANNet(**TINY, in_shape=in_shape)


def test_in_shape_list_from_a_config():
    assert GLEANNet(**TINY, in_shape=[6, 8]).in_shape == (6, 8)


@pytest.mark.parametrize('value', ['black', None, True])
def test_invalid_pad_value(value):
    with pytest.raises(TypeError, match=f'pad_value must be a number, got '
                       f'{value!r}'):
        GLEANNet(**TINY, in_shape=(6, 8), pad_value=value)


@pytest.mark.parametrize('shape,msg', [
    ((1, 3, 8, 8), r'inputs of in_shape 6x8, got 8x8 \(height x width\)'),
    ((1, 3, 8, 6), r'inputs of in_shape 6x8, got 8x6'),
    ((3, 6, 8), r'expects a \(N, 3, 6, 8\) tensor, got \(3, 6, 8\)'),
])
def test_input_must_have_in_shape(shape, msg, state, device):
    model = build(state, device, in_shape=(6, 8))
    with pytest.raises(ValueError, match=msg):
        model(torch.zeros(shape, device=device))


# --------------------------------------------------------------------------- #
# discriminator
# --------------------------------------------------------------------------- #
def test_discriminator_pads_to_its_square(device):
    torch.manual_seed(3)
    square = GLEANDiscriminator(64, max_channels=16)
    square.load_state_dict(randomize_state_dict(square.state_dict(), seed=3))
    rect = GLEANDiscriminator(64, max_channels=16, in_shape=(48, 64))
    rect.load_state_dict(square.state_dict(), strict=True)
    square, rect = square.to(device), rect.to(device)
    x = _rand(4, 3, 48, 64).to(device)
    with torch.no_grad():
        ref = square(F.pad(x, (0, 0, 8, 8), value=-1.0))
        assert torch.equal(rect(x), ref)
    with pytest.raises(ValueError, match=r'expects \(N, 3, 48, 64\) images, '
                       r'got \(4, 3, 64, 64\)'):
        rect(torch.zeros(4, 3, 64, 64, device=device))
    with pytest.raises(ValueError, match=r'in_shape sides .*got \(47, 64\)'):
        GLEANDiscriminator(64, max_channels=16, in_shape=(47, 64))


# --------------------------------------------------------------------------- #
# the car config, end to end
# --------------------------------------------------------------------------- #
def _tiny_car_config():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'glean_car_8x.py'))
    gen, disc = cfg.model.generator, cfg.model.discriminator
    assert (tuple(gen.in_shape), gen.in_size, gen.out_size) == (
        (48, 64), 64, 512)
    gen.update(TINY, in_shape=(6, 8), init_cfg=None)
    disc.update(in_size=64, in_shape=(48, 64), max_channels=16,
                init_cfg=None)
    cfg.model.perceptual_loss.pretrained = None
    return cfg


def _car_files(root):
    rng = np.random.default_rng(0)
    for folder, shape in (('GT', (48, 64)), ('BIx8_down', (6, 8))):
        path = root / folder
        path.mkdir(parents=True)
        img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        Image.fromarray(img).save(path / 'car1.png')
    (root / 'meta_info_Car100_GT.txt').write_text('car1.png (48,64,3)\n')


def test_car_config_trains_and_measures_the_picture_only(tmp_path):
    import mmagic.models  # noqa: F401
    from mmagic.registry import DATASETS, METRICS
    cfg = _tiny_car_config()
    init_default_scope(cfg.default_scope)
    _car_files(tmp_path)
    model = MODELS.build(cfg.model)

    def dataset(loader):
        return DATASETS.build(dict(loader.dataset, data_root=str(tmp_path),
                                   ann_file='meta_info_Car100_GT.txt'))

    # one training step: the discriminator takes the 48x64 images
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    train_set = dataset(cfg.train_dataloader)
    model.train()
    losses = model.train_step(pseudo_collate([train_set[0]] * 2), wrapper)
    assert {'loss_pix', 'loss_gan', 'loss_d_real', 'loss_d_fake'} <= set(
        losses)
    assert all(torch.isfinite(v).all() for v in losses.values())

    # validation: 48x64 predictions, the metrics see exactly them
    val_set = dataset(cfg.val_dataloader)
    batch = pseudo_collate([val_set[0]])
    model.eval()
    with torch.no_grad():
        sample = model.val_step(batch)[0]
        data = model.data_preprocessor(batch)
        out = model(**data, mode='tensor')
        square = GLEANNet(**TINY).eval()
        square.load_state_dict(model.generator.state_dict())
        padded_out = square(F.pad(data['inputs'], (0, 0, 1, 1), value=-1.0))
    # the network's output is the square GLEAN's rows 8:56 (of 64)
    assert torch.equal(out, padded_out[..., 8:56, :])
    pred, gt = sample.output.pred_img, sample.gt_img
    assert pred.shape == gt.shape == (3, 48, 64)
    mse = ((pred.double() - gt.double())**2).mean().item()
    results = {}
    for metric_cfg in cfg.val_evaluator:
        metric = METRICS.build(metric_cfg)
        metric.prepare(model, types.SimpleNamespace(dataset=val_set))
        metric.process(batch, [sample.to_dict()])
        results.update(metric.evaluate())
    assert set(results) == {'MAE', 'PSNR', 'SSIM'}
    assert results['PSNR'] == pytest.approx(10 * np.log10(255**2 / mse),
                                            rel=1e-6)
    assert results['MAE'] == pytest.approx(
        (pred.double() - gt.double()).abs().mean().item() / 255, rel=1e-5)
