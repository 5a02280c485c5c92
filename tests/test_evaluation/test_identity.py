"""IdentitySimilarity and the ArcFace IR-SE50 it runs (random weights)."""
import logging
import os
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.evaluator import Evaluator

from glean_plugin.checkpoint import CheckpointMismatchError
from glean_plugin.evaluation import IdentitySimilarity, identity
from glean_plugin.evaluation.identity import ARCFACE_URL, arcface_cache_path
from glean_plugin.models.layers.arcface import IRSE50, arcface_face_crop
from glean_plugin.registry import METRICS

# MMagic's IDLossModel (and pSp) crop this box of a 256x256 face.
CROP_256 = (slice(35, 223), slice(32, 220))
# The same box scaled to 128x128: round(35/2)=18, round(223/2)=112, 16, 110.
CROP_128 = (slice(18, 112), slice(16, 110))


def _randomize_batchnorm(network, seed=0):
    """Non-trivial running statistics and affine terms in every batch norm."""
    gen = torch.Generator().manual_seed(seed)
    for module in network.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = module.num_features
            module.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
            module.running_var.copy_(1 + 0.5 * torch.rand(n, generator=gen))
            module.weight.data.copy_(1 + 0.1 * torch.randn(n, generator=gen))
            module.bias.data.copy_(0.1 * torch.randn(n, generator=gen))


@pytest.fixture(scope='module')
def metric():
    """One random-weight metric per module: IR-SE50 has ~44M parameters.

    Default initialisation: random batch-norm statistics make a random
    IR-SE50 map every image to nearly the same embedding.
    """
    return IdentitySimilarity(arcface_pretrained=False)


@pytest.fixture(scope='module')
def weights_file(metric, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('arcface') / 'model_ir_se50.pth')
    torch.save(metric.arcface.state_dict(), path)
    return path


def _face_pairs(sizes, seed=0):
    """(gt, pred) BGR pairs in [0, 255], (3, size, size) each.

    Smooth images (8x8 noise, upsampled): pixel noise alone would average out
    in the face pooling.
    """
    gen = torch.Generator().manual_seed(seed)
    pairs = []
    for size in sizes:
        coarse = torch.rand(1, 3, 8, 8, generator=gen) * 255
        gt = F.interpolate(coarse, size=size, mode='bilinear',
                           align_corners=False)[0]
        noise = 30 * torch.randn(3, size, size, generator=gen)
        pairs.append((gt, (gt + noise).clamp(0, 255)))
    return pairs


def _hand_crop(img_bgr, crop):
    """(3, H, W) BGR in [0, 255] -> (1, 3, 112, 112) RGB face in [-1, 1]."""
    x = (img_bgr.flip(0) / 127.5 - 1)[None, :, crop[0], crop[1]]
    return F.adaptive_avg_pool2d(x, 112)


def test_state_dict_matches_mmagic_ir_se50():
    from mmagic.models.editors.arcface.model_irse import Backbone
    ref = Backbone(input_size=112, num_layers=50, drop_ratio=0.6,
                   mode='ir_se').eval()
    _randomize_batchnorm(ref)
    ours = IRSE50()
    expected = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        expected
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.rand(1, 3, 112, 112) * 2 - 1
    with torch.no_grad():
        out = ours(x)
        torch.testing.assert_close(out, ref(x), rtol=0, atol=1e-6)
    assert out.shape == (1, 512)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(1))
    assert not ours.train().training


def test_face_crop_box():
    x = torch.arange(256.).view(1, 1, 1, 256).expand(2, 3, 256, 256)
    crop = arcface_face_crop(x)
    assert crop.shape == (2, 3, 112, 112)
    torch.testing.assert_close(
        crop, F.adaptive_avg_pool2d(x[:, :, CROP_256[0], CROP_256[1]], 112))
    y = torch.rand(1, 3, 128, 128)
    torch.testing.assert_close(
        arcface_face_crop(y),
        F.adaptive_avg_pool2d(y[:, :, CROP_128[0], CROP_128[1]], 112))
    with pytest.raises(ValueError, match=r'\(N, C, H, W\).*\(3, 64, 64\)'):
        arcface_face_crop(torch.zeros(3, 64, 64))


def test_metric_equals_hand_calculation_in_evaluator(metric):
    pairs = _face_pairs((256, 128))
    crops = (CROP_256, CROP_128)
    faces = torch.cat([_hand_crop(img, crop)
                       for (gt, pred), crop in zip(pairs, crops)
                       for img in (pred, gt)])
    with torch.no_grad():
        emb = metric.arcface(faces)
    per_image = F.cosine_similarity(emb[0::2], emb[1::2], dim=1).tolist()
    assert all(0 < value < 0.99 for value in per_image)
    evaluator = Evaluator(metric)
    for gt, pred in pairs:
        evaluator.process([dict(gt_img=gt, output=dict(pred_img=pred))])
    result = evaluator.evaluate(len(pairs))
    assert list(result) == ['IdentitySimilarity']
    assert result['IdentitySimilarity'] == pytest.approx(
        sum(per_image) / len(per_image), abs=1e-5)


def test_identical_images_give_one(metric):
    gt, _ = _face_pairs((112,))[0]
    assert metric.process_image(gt, gt.clone(), None) == pytest.approx(
        1.0, abs=1e-6)


def test_weights_load_strictly_from_file(metric, weights_file):
    loaded = IdentitySimilarity(arcface_path=weights_file)
    for key, value in metric.arcface.state_dict().items():
        assert torch.equal(loaded.arcface.state_dict()[key], value), key
    # files written before PyTorch 0.4.1 have no batch-norm counters
    state = {k: v for k, v in metric.arcface.state_dict().items()
             if not k.endswith('num_batches_tracked')}
    old_style = weights_file.replace('.pth', '_old.pth')
    torch.save(state, old_style)
    IdentitySimilarity(arcface_path=old_style)


def test_wrong_checkpoint_raises(metric, tmp_path):
    state = dict(metric.arcface.state_dict())
    state.pop('output_layer.3.weight')
    state['extra.weight'] = torch.zeros(1)
    state['input_layer.0.weight'] = torch.zeros(64, 3, 5, 5)
    path = str(tmp_path / 'wrong.pth')
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as err:
        IdentitySimilarity(arcface_path=path)
    message = str(err.value)
    for part in ('ArcFace IR-SE50', 'output_layer.3.weight', 'extra.weight',
                 'input_layer.0.weight (checkpoint (64, 3, 5, 5), expected '
                 '(64, 3, 3, 3))'):
        assert part in message
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        IdentitySimilarity(arcface_path=str(tmp_path / 'nowhere.pth'))


def test_hub_cache_is_used_and_missing_file_explained(
        monkeypatch, tmp_path, weights_file):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    path = arcface_cache_path()
    assert path == osp.join(str(tmp_path), 'checkpoints', 'Arcface-IR-SE50')
    with pytest.raises(FileNotFoundError) as err:
        IdentitySimilarity()
    assert path in str(err.value) and ARCFACE_URL in str(err.value)
    os.makedirs(osp.dirname(path))
    os.symlink(weights_file, path)
    built = METRICS.build(dict(type='IdentitySimilarity', prefix='test'))
    assert built.prefix == 'test'


def test_random_weights_are_explicit_and_logged(monkeypatch):
    logged = []
    monkeypatch.setattr(identity, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw['level'])))
    with pytest.raises(ValueError, match='arcface_pretrained=False'):
        IdentitySimilarity(arcface_path='x.pth', arcface_pretrained=False)
    assert logged == []
    monkeypatch.setattr(identity, 'IRSE50', torch.nn.Identity)
    IdentitySimilarity(arcface_pretrained=False)
    assert len(logged) == 1 and logged[0][1] == logging.WARNING
    assert 'random ArcFace weights' in logged[0][0]


def test_bad_input(metric):
    gt = torch.zeros(3, 128, 128)
    with pytest.raises(ValueError,
                       match=r'differ: \(3, 112, 112\) vs \(3, 128, 128\)'):
        metric.process_image(gt, torch.zeros(3, 112, 112), None)
    with pytest.raises(ValueError, match=r'\(3, H, W\).*\(4, 128, 128\)'):
        metric.process_image(torch.zeros(4, 128, 128), gt, None)
    with pytest.raises(TypeError, match='gt_img must be a Tensor.*str'):
        metric.process_image('face.png', gt, None)
    with pytest.raises(ValueError, match="channel_order.*got 'gray'"):
        IdentitySimilarity(channel_order='gray', arcface_pretrained=False)
    with pytest.raises(ValueError,
                       match=r'\(N, 3, 112, 112\).*\(1, 3, 64, 64\)'):
        metric.arcface(torch.zeros(1, 3, 64, 64))
