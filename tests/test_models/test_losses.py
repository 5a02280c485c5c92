"""Perceptual loss and the paper's loss terms inside MMagic's SRGAN."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
import torchvision

from glean_plugin import checkpoint
from glean_plugin.checkpoint import (CheckpointHashError,
                                     CheckpointMismatchError)
from glean_plugin.models import VGGPerceptualLoss
from glean_plugin.models.losses.perceptual import torchvision_vgg_cache_path
from glean_plugin.registry import MODELS

LAYER = 21  # GLEAN's VGG16 layer (conv4_3, before its ReLU)


def _images(n=2, size=32):
    x = torch.rand(n, 3, size, size) * 2 - 1
    return x, (x + 0.3 * torch.randn_like(x)).clamp(-1, 1)


def _hand_perceptual(vgg, x, gt, norm_img):
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def feats(img):
        if norm_img:
            img = (img + 1) / 2
        return vgg.features[:LAYER + 1]((img - mean) / std)

    return F.mse_loss(feats(x), feats(gt))


@pytest.mark.parametrize('norm_img', [False, True])
def test_matches_hand_computation_with_given_weights(tmp_path, norm_img):
    vgg = torchvision.models.vgg16(weights=None)
    path = str(tmp_path / 'vgg16.pth')
    torch.save(vgg.state_dict(), path)
    loss = VGGPerceptualLoss({str(LAYER): 1.0}, perceptual_weight=1e-2,
                             norm_img=norm_img, pretrained=path)
    x, gt = _images()
    value, style = loss(x, gt)
    assert style is None
    expected = 1e-2 * _hand_perceptual(vgg.eval(), x, gt, norm_img)
    torch.testing.assert_close(value, expected, rtol=1e-5, atol=0)
    assert value > 0


def test_gradient_reaches_output_not_vgg():
    loss = VGGPerceptualLoss({'3': 1.0, '8': 0.5}, pretrained=None)
    x, gt = _images()
    x.requires_grad_(True)
    value, _ = loss(x, gt)
    value.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())
    assert loss.train().features.training is False


def test_torchvision_cache_is_used_and_missing_file_explained(
        tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    path, url = torchvision_vgg_cache_path('vgg16')
    assert path.startswith(str(tmp_path)) and osp.basename(url) in path
    # building reads nothing (testing a model needs no VGG file) ...
    loss = VGGPerceptualLoss({'21': 1.0}, pretrained='torchvision://vgg16')
    with pytest.raises(FileNotFoundError) as err:
        loss.init_weights()  # ... the Runner reads it when training starts
    assert path in str(err.value) and url in str(err.value)
    vgg = torchvision.models.vgg16(weights=None)
    torch.save(vgg.state_dict(), _makedirs(path))
    # A random VGG under torchvision's name is not the published file: the
    # name's sha256 prefix (vgg16-397923af) refuses it ...
    with pytest.raises(CheckpointHashError, match='397923af'):
        loss.init_weights()
    # ... so, to see that the cached file is the one read, the check is off
    monkeypatch.setattr(checkpoint, 'check_hash_suffix', lambda name: True)
    assert not torch.equal(loss.features[0].weight, vgg.features[0].weight)
    loss.init_weights()
    assert torch.equal(loss.features[0].weight, vgg.features[0].weight)


def test_first_forward_reads_the_weights(tmp_path):
    """Used outside a Runner (nothing calls init_weights), the loss reads its
    weights before its first value, never computes one with random VGG."""
    vgg = torchvision.models.vgg16(weights=None)
    path = str(tmp_path / 'vgg16.pth')
    torch.save(vgg.state_dict(), path)
    loss = VGGPerceptualLoss({'3': 1.0}, pretrained=path)
    assert not torch.equal(loss.features[0].weight, vgg.features[0].weight)
    loss(torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8))
    assert torch.equal(loss.features[0].weight, vgg.features[0].weight)


def _makedirs(path):
    import os
    os.makedirs(osp.dirname(path), exist_ok=True)
    return path


@pytest.mark.slow
def test_bad_weights_and_arguments(tmp_path):
    path = str(tmp_path / 'vgg11.pth')
    torch.save(torchvision.models.vgg11(weights=None).state_dict(), path)
    with pytest.raises(CheckpointMismatchError, match='vgg16 features'):
        VGGPerceptualLoss({'21': 1.0}, pretrained=path).init_weights()
    with pytest.raises(ValueError, match='style'):
        VGGPerceptualLoss({'21': 1.0}, style_weight=1.0, pretrained=None)
    with pytest.raises(ValueError, match='vgg_type'):
        VGGPerceptualLoss({'21': 1.0}, vgg_type='resnet', pretrained=None)
    with pytest.raises(ValueError, match='index 99'):
        VGGPerceptualLoss({'99': 1.0}, pretrained=None)
    with pytest.raises(ValueError, match='does not match'):
        VGGPerceptualLoss({'21': 1.0}, pretrained='torchvision://vgg19')
    loss = VGGPerceptualLoss({'3': 1.0}, pretrained=None)
    with pytest.raises(ValueError, match='shapes differ'):
        loss(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 32, 32))


def _tiny_srgan():
    import mmagic.models  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmagic')
    return MODELS.build(
        dict(
            type='SRGAN',
            generator=dict(type='GLEANNet', in_size=8, out_size=32,
                           style_channels=16, max_channels=16, num_mlps=1,
                           num_rrdbs=1, rrdb_channels=8),
            discriminator=dict(type='GLEANDiscriminator', in_size=32,
                               max_channels=16),
            pixel_loss=dict(type='MSELoss', loss_weight=1.0),
            perceptual_loss=dict(type='VGGPerceptualLoss',
                                 layer_weights={'21': 1.0},
                                 perceptual_weight=1e-2, norm_img=False,
                                 pretrained=None),
            gan_loss=dict(type='GANLoss', gan_type='vanilla',
                          loss_weight=1e-2, real_label_val=1.0,
                          fake_label_val=0),
            data_preprocessor=dict(type='DataPreprocessor')))


def test_paper_loss_terms_by_hand():
    """L_g = mse + 1e-2 percep + 1e-2 gen; L_d = -log D(y) - log(1-D(y^))."""
    model = _tiny_srgan()
    lq = torch.randn(2, 3, 8, 8)
    gt = torch.rand(2, 3, 32, 32) * 2 - 1
    out = model.generator(lq)
    losses = model.g_step(out, gt)
    assert set(losses) == {'loss_pix', 'loss_perceptual', 'loss_gan'}
    d_fake = model.discriminator(out)
    d_real = model.discriminator(gt)
    percep = model.perceptual_loss
    expected = {
        'loss_pix': F.mse_loss(out, gt),
        'loss_perceptual': 1e-2 * F.mse_loss(percep._extract(out)['21'],
                                             percep._extract(gt)['21']),
        # -log sigmoid(D(y^)) = softplus(-D(y^))
        'loss_gan': 1e-2 * F.softplus(-d_fake).mean(),
    }
    for key, value in expected.items():
        torch.testing.assert_close(losses[key], value, rtol=1e-5, atol=1e-8)
    real = model.d_step_real(out, gt)
    fake = model.d_step_fake(out, gt)
    torch.testing.assert_close(real, F.softplus(-d_real).mean())
    torch.testing.assert_close(fake, F.softplus(d_fake).mean())
