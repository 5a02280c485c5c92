"""LPIPS metric: the ``lpips`` package, offline weights, evaluators."""
import logging
import os
import os.path as osp
import warnings

import lpips
import pytest
import torch
import torchvision
from mmengine.evaluator import Evaluator

from glean_plugin import checkpoint
from glean_plugin.checkpoint import (CheckpointHashError,
                                     CheckpointMismatchError)
from glean_plugin.evaluation import LPIPS, base, lpips_metric
from glean_plugin.evaluation.lpips_metric import lpips_backbone_cache_path
from glean_plugin.registry import METRICS

SIZE = 64
TORCHVISION_BUILDERS = {'alex': torchvision.models.alexnet,
                        'squeeze': torchvision.models.squeezenet1_1}


def _backbone_file(tmp_path, net='alex', seed=0):
    """A seeded random torchvision backbone saved as a weights file."""
    torch.manual_seed(seed)
    model = TORCHVISION_BUILDERS[net](weights=None)
    path = str(tmp_path / f'{net}.pth')
    torch.save(model.state_dict(), path)
    return path, model


def _reference_lpips(net, torchvision_model):
    """``lpips.LPIPS`` called directly, backbone copied from torchvision."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        ref = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
    features = torchvision_model.features
    for block in ref.net.children():
        for name, layer in block.named_children():
            layer.load_state_dict(features[int(name)].state_dict())
    return ref.eval()


def _pairs(n, size=SIZE):
    """``n`` (gt, pred) pairs, (3, size, size) in [0, 255]."""
    gt = torch.rand(n, 3, size, size) * 255
    pred = (gt + 40 * torch.randn_like(gt)).clamp(0, 255)
    return list(zip(gt, pred))


def _rgb_unit(img_bgr):
    """(3, H, W) BGR in [0, 255] -> (1, 3, H, W) RGB in [-1, 1]."""
    return (img_bgr.flip(0) / 127.5 - 1).unsqueeze(0)


@pytest.fixture(scope='module')
def alex_weights(tmp_path_factory):
    return _backbone_file(tmp_path_factory.mktemp('lpips'))


@pytest.fixture(scope='module')
def alex_metric(alex_weights):
    return LPIPS(net='alex', backbone_path=alex_weights[0])


@pytest.fixture(scope='module')
def squeeze_weights(tmp_path_factory):
    return _backbone_file(tmp_path_factory.mktemp('lpips'), 'squeeze')


@pytest.mark.parametrize('net', ['alex', 'squeeze'])
def test_matches_lpips_package_with_same_weights(request, net):
    path, model = request.getfixturevalue(f'{net}_weights')
    metric = LPIPS(net=net, backbone_path=path)
    ref = _reference_lpips(net, model)
    for gt, pred in _pairs(2):
        value = metric.process_image(gt, pred, None)
        with torch.no_grad():
            expected = ref(_rgb_unit(pred), _rgb_unit(gt)).item()
        assert value == pytest.approx(expected, abs=1e-6)
        assert value > 0


def test_rgb_channel_order_and_identical_images(squeeze_weights):
    gt, pred = _pairs(1)[0]
    bgr = LPIPS(net='squeeze', backbone_path=squeeze_weights[0])
    rgb = LPIPS(net='squeeze', backbone_path=squeeze_weights[0],
                channel_order='rgb')
    assert rgb.process_image(gt.flip(0), pred.flip(0), None) == \
        pytest.approx(bgr.process_image(gt, pred, None), abs=1e-6)
    assert bgr.process_image(gt, pred.flip(0), None) != \
        pytest.approx(bgr.process_image(gt, pred, None), abs=1e-6)
    assert bgr.process_image(gt, gt.clone(), None) == 0


def test_device_option(device, squeeze_weights):
    gt, pred = _pairs(1)[0]
    path = squeeze_weights[0]
    expected = LPIPS(net='squeeze', backbone_path=path).process_image(
        gt, pred, None)
    on_device = LPIPS(net='squeeze', backbone_path=path, device=device)
    assert on_device.process_image(gt, pred, None) == pytest.approx(
        expected, abs=1e-5)
    follows_data = LPIPS(net='squeeze', backbone_path=path, device=None)
    value = follows_data.process_image(gt.to(device), pred.to(device), None)
    assert value == pytest.approx(expected, abs=1e-5)
    assert next(follows_data.lpips_net.parameters()).device.type == \
        device.type


def test_mean_of_per_image_values_in_evaluator(alex_metric):
    pairs = _pairs(3)
    per_image = [alex_metric.process_image(gt, pred, None)
                 for gt, pred in pairs]
    evaluator = Evaluator(alex_metric)
    samples = [dict(gt_img=gt, output=dict(pred_img=pred))
               for gt, pred in pairs]
    evaluator.process(samples[:2])
    evaluator.process(samples[2:])
    result = evaluator.evaluate(len(samples))
    assert list(result) == ['LPIPS']
    assert result['LPIPS'] == pytest.approx(sum(per_image) / 3, abs=1e-7)
    # MMagic's Evaluator calls evaluate() after prepare() has set the size
    alex_metric.size = 1
    alex_metric.process(None, samples[:1])
    assert alex_metric.evaluate() == pytest.approx({'LPIPS': per_image[0]})


def test_built_from_config_with_prefix(monkeypatch):
    metric = METRICS.build(dict(type='LPIPS', net='squeeze',
                                backbone_pretrained=False, prefix='val'))
    gt, pred = _pairs(1)[0]
    sample = dict(gt_img=gt.numpy(), output=dict(pred_img=pred.numpy()))
    metric.process(None, [sample])
    # neither a size nor prepare(): the processed samples, in one process
    assert list(metric.evaluate()) == ['val/LPIPS']
    monkeypatch.setattr(base, 'get_world_size', lambda: 2)
    with pytest.raises(RuntimeError, match='data set size'):
        metric.evaluate()


def test_torchvision_cache_is_used_and_missing_file_explained(
        tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    path, url = lpips_backbone_cache_path('alex')
    assert path == osp.join(str(tmp_path), 'checkpoints',
                            'alexnet-owt-7be5be79.pth')
    assert url == ('https://download.pytorch.org/models/'
                   'alexnet-owt-7be5be79.pth')
    with pytest.raises(FileNotFoundError) as err:
        LPIPS()
    assert path in str(err.value) and url in str(err.value)
    os.makedirs(osp.dirname(path))
    model = torchvision.models.alexnet(weights=None)
    torch.save(model.state_dict(), path)
    # A random AlexNet under torchvision's name is not the published file:
    # the name's sha256 prefix (alexnet-owt-7be5be79) refuses it ...
    with pytest.raises(CheckpointHashError, match='7be5be79'):
        LPIPS()
    # ... so, to see that the cached file is the one read, the check is off
    monkeypatch.setattr(checkpoint, 'check_hash_suffix', lambda name: True)
    metric = LPIPS()
    assert torch.equal(metric.lpips_net.net.slice1[0].weight,
                       model.features[0].weight)
    assert torch.equal(getattr(metric.lpips_net.net.slice5, '10').bias,
                       model.features[10].bias)


def test_wrong_backbone_file(tmp_path, squeeze_weights):
    with pytest.raises(CheckpointMismatchError,
                       match='LPIPS alex backbone') as err:
        LPIPS(net='alex', backbone_path=squeeze_weights[0])
    assert 'missing' in str(err.value) and 'unexpected' in str(err.value)
    no_features = str(tmp_path / 'classifier_only.pth')
    torch.save({'classifier.1.weight': torch.zeros(2, 2)}, no_features)
    with pytest.raises(CheckpointMismatchError, match='prefix'):
        LPIPS(backbone_path=no_features)
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        LPIPS(backbone_path=str(tmp_path / 'nowhere.pth'))


def test_random_backbone_is_explicit_and_logged(monkeypatch):
    logged = []
    monkeypatch.setattr(lpips_metric, 'print_log',
                        lambda msg, **kw: logged.append((msg, kw['level'])))
    metric = LPIPS(net='squeeze', backbone_pretrained=False)
    assert len(logged) == 1 and 'random squeeze backbone' in logged[0][0]
    assert logged[0][1] == logging.WARNING
    assert metric.lpips_net.pnet_type == 'squeeze'
    with pytest.raises(ValueError, match='backbone_pretrained=False'):
        LPIPS(backbone_path='x.pth', backbone_pretrained=False)


def test_bad_input(alex_metric):
    with pytest.raises(ValueError, match=r"one of \['alex', 'squeeze', "
                       r"'vgg'\], got 'resnet'"):
        LPIPS(net='resnet', backbone_pretrained=False)
    with pytest.raises(ValueError, match="got 'YUV'"):
        LPIPS(channel_order='YUV', backbone_pretrained=False)
    gt = torch.zeros(3, SIZE, SIZE)
    with pytest.raises(ValueError,
                       match=r'differ: \(3, 32, 32\) vs \(3, 64, 64\)'):
        alex_metric.process_image(gt, torch.zeros(3, 32, 32), None)
    with pytest.raises(ValueError, match=r'\(3, H, W\).*\(1, 64, 64\)'):
        alex_metric.process_image(gt[:1], gt[:1], None)
    with pytest.raises(TypeError, match='list'):
        alex_metric.process_image([0], gt, None)


def test_in_mmagic_evaluator_next_to_psnr():
    """As a config's ``val_evaluator = dict(type='Evaluator', ...)``."""
    from mmagic.registry import EVALUATORS
    from mmagic.structures import DataSample
    from mmengine.registry import DefaultScope
    metrics = [dict(type='PSNR'),
               dict(type='LPIPS', net='squeeze', backbone_pretrained=False)]
    with DefaultScope.overwrite_default_scope('mmagic'):
        evaluator = EVALUATORS.build(dict(type='Evaluator', metrics=metrics))
    gt, pred = _pairs(1)[0]
    sample = DataSample(gt_img=gt)
    sample.output = DataSample(pred_img=pred)
    for metric in evaluator.metrics:
        metric.size = 1  # what MMagic's loops set in prepare()
    evaluator.process([sample], None, evaluator.metrics)
    result = evaluator.evaluate()
    lpips_metric_ = evaluator.metrics[1]
    assert set(result) == {'PSNR', 'LPIPS'}
    assert result['LPIPS'] == pytest.approx(
        lpips_metric_.process_image(gt, pred, None), abs=1e-7)


def test_video_sample_is_mean_of_frames():
    metric = LPIPS(net='squeeze', backbone_pretrained=False)
    pairs = _pairs(2, size=32)
    per_frame = [metric.process_image(gt, pred) for gt, pred in pairs]
    gt, pred = (torch.stack(frames) for frames in zip(*pairs))
    metric.process(None, [dict(gt_img=gt, output=dict(pred_img=pred))])
    assert metric.results == [
        {'LPIPS': pytest.approx(sum(per_frame) / 2, abs=1e-7)}]
    with pytest.raises(ValueError, match='1 frames, gt_img 2'):
        metric.process(None, [dict(gt_img=gt, output=dict(pred_img=pred[:1]))])
    with pytest.raises(KeyError, match="no 'gt_img'.*'img'"):
        metric.process(None, [dict(img=gt, output=dict(pred_img=pred))])
