"""The blind (real-world) 128 -> 1024 GLEAN configs: they build, their
degradation pipeline (MMagic's transforms, as MMagic's config) degrades,
and the fp32 one trains on CPU with a tiny channel table and 64 -> 8
degradations.

The fp16 variant only turns on ``fp16_enabled`` (float16 autocast in the
latent bank and discriminator, as MMagic's fp16 config; no AMP wrapper):
it is checked for what it builds and the optimisers it keeps, and trains
two iterations on CPU like the fp32 one.
"""
import copy
import os
import os.path as osp

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from glean_plugin.registry import MODELS
from tests.support.helpers import REPO_ROOT, run_python

BLIND = osp.join(REPO_ROOT, 'configs', 'glean_ffhq_in128out1024-blind.py')
BLIND_FP16 = osp.join(REPO_ROOT, 'configs',
                      'glean_ffhq_in128out1024-blind-fp16.py')
# MMagic's own config, as the installed package ships it (mim's copy)
MMAGIC_BLIND = osp.join('.mim', 'configs', 'glean',
                        'glean_in128out1024_4xb2-300k_ffhq-celeba-hq.py')
DEGRADATIONS = ('RandomBlur', 'RandomResize', 'RandomNoise',
                'RandomJPEGCompression', 'Clip')
# The tiny version: 64 -> 8 (the same 8x), a reduced channel table.
TINY_GT, TINY_LQ = 64, 8
TINY_MODEL = {
    'generator.in_size': TINY_LQ, 'generator.out_size': TINY_GT,
    'generator.style_channels': 16, 'generator.max_channels': 16,
    'generator.num_mlps': 2, 'generator.rrdb_channels': 16,
    'generator.num_rrdbs': 1, 'generator.init_cfg': None,
    'discriminator.in_size': TINY_GT, 'discriminator.max_channels': 16,
    'discriminator.init_cfg': None, 'perceptual_loss.pretrained': None,
}


def _sized(pipeline, gt_size, lq_size):
    """``pipeline`` with its two fixed-size resizes set to other sizes."""
    pipeline = copy.deepcopy(pipeline)
    sizes = {(1024, 1024): (gt_size, gt_size), (128, 128): (lq_size, lq_size)}
    changed = 0
    for step in pipeline:
        target = step.get('params', {}).get('target_size')
        if target is not None:
            step['params']['target_size'] = sizes[tuple(target)]
            changed += 1
    assert changed == 2
    return pipeline


def _degrade(pipeline, gt, seed):
    """Run the steps between loading and packing on a GT image."""
    np.random.seed(seed)
    steps = [s for s in pipeline
             if s['type'] not in ('LoadImageFromFile', 'PackInputs')]
    return Compose(steps)(dict(gt=gt.copy(), gt_path='face.png'))


def _steps(pipeline):
    return [s['type'] for s in pipeline]


@pytest.mark.parametrize('path', [BLIND, BLIND_FP16], ids=osp.basename)
def test_blind_configs_build(path):
    import mmagic.models  # noqa: F401
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    gen = cfg.model.generator
    assert (gen.in_size, gen.out_size) == (128, 1024)
    assert cfg.model.discriminator.in_size == 1024
    model_cfg = copy.deepcopy(cfg.model)
    for part in ('generator', 'discriminator'):
        model_cfg[part]['init_cfg'] = None
    model_cfg.perceptual_loss.pretrained = None
    with torch.device('meta'):
        model = MODELS.build(model_cfg)
    assert type(model.generator).__name__ == 'GLEANNet'
    assert type(model.discriminator).__name__ == 'GLEANDiscriminator'
    fp16 = path == BLIND_FP16
    assert model.generator.generator.fp16_enabled is fp16  # the bank
    assert model.discriminator.fp16_enabled is fp16
    # training data: GT only, the inputs are made by the pipeline
    dataset = cfg.train_dataloader.dataset
    assert dict(dataset.data_prefix) == {'gt': 'GT'}
    assert cfg.val_dataloader.dataset.data_prefix.img == 'BIx8_down'
    assert osp.basename(cfg.work_dir) == osp.splitext(osp.basename(path))[0]


def test_fp16_variant_changes_only_the_dtype():
    blind, fp16 = Config.fromfile(BLIND), Config.fromfile(BLIND_FP16)
    # the same optimisers (MMagic's fp16 GLEAN keeps plain OptimWrapper:
    # no loss scaling) and schedule
    assert fp16.optim_wrapper.to_dict() == blind.optim_wrapper.to_dict()
    for part in ('generator', 'discriminator'):
        assert fp16.optim_wrapper[part].type == 'OptimWrapper'
    assert fp16.param_scheduler == blind.param_scheduler
    assert fp16.train_dataloader.to_dict() == blind.train_dataloader.to_dict()
    for part in ('generator', 'discriminator'):
        a, b = fp16.model[part].to_dict(), blind.model[part].to_dict()
        assert a.pop('fp16_enabled') is True and 'fp16_enabled' not in b
        assert a == b


def test_blind_config_matches_mmagic():
    """Degradations, losses and optimiser as MMagic's config says."""
    import mmagic
    ours = Config.fromfile(BLIND)
    theirs = Config.fromfile(
        osp.join(osp.dirname(mmagic.__file__), MMAGIC_BLIND))
    assert ours.train_dataloader.dataset.pipeline == \
        theirs.train_dataloader.dataset.pipeline
    assert ours.optim_wrapper == theirs.optim_wrapper
    for key in ('layer_weights', 'perceptual_weight', 'norm_img',
                'criterion', 'vgg_type'):
        assert ours.model.perceptual_loss[key] == \
            theirs.model.perceptual_loss[key], key
    assert ours.model.gan_loss == theirs.model.gan_loss
    assert ours.model.pixel_loss == theirs.model.pixel_loss
    assert ours.train_dataloader.batch_size == \
        theirs.train_dataloader.batch_size
    assert ours.train_cfg.max_iters == theirs.train_cfg.max_iters
    for key in ('type', 'eta_min', 'by_epoch'):
        assert ours.param_scheduler[key] == theirs.param_scheduler[key]
    assert ours.val_dataloader.dataset.ann_file == \
        theirs.val_dataloader.dataset.ann_file


@pytest.mark.parametrize('gt_size,lq_size', [(1024, 128),
                                             (TINY_GT, TINY_LQ)])
def test_degradation_pipeline_degrades(gt_size, lq_size):
    import mmagic.datasets.transforms  # noqa: F401
    init_default_scope('mmagic')
    pipeline = _sized(Config.fromfile(BLIND).train_dataloader.dataset
                      .pipeline, gt_size, lq_size)
    assert [t for t in _steps(pipeline) if t in DEGRADATIONS] == [
        'RandomBlur', 'RandomResize', 'RandomNoise', 'RandomJPEGCompression',
        'RandomResize', 'Clip', 'RandomResize']
    rng = np.random.default_rng(0)
    # one random colour per input pixel, as blocks of 8x8 GT pixels: a plain
    # area resize gives the pattern back exactly, blur smears neighbours
    pattern = rng.integers(0, 256, (lq_size, lq_size, 3), dtype=np.uint8)
    gt = cv2.resize(pattern, (gt_size, gt_size),
                    interpolation=cv2.INTER_NEAREST)
    plain = cv2.resize(gt, (lq_size, lq_size), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(plain, pattern)
    for seed in range(3):
        out = _degrade(pipeline, gt, seed)
        assert out['img'].shape == (lq_size, lq_size, 3)
        assert out['img'].dtype == np.uint8
        assert out['gt'].shape == gt.shape and out['scale'] == 8
        img = out['img']
        if out['flip_infos'][0]['flip']:
            img = img[:, ::-1]
        diff = np.abs(img.astype(float) - plain).mean()
        assert diff > 10, f'seed {seed}: mean |degraded - resized| {diff:.2f}'
    # different seeds, different degradations
    a, b = _degrade(pipeline, gt, 0)['img'], _degrade(pipeline, gt, 1)['img']
    assert not np.array_equal(a, b)


def _tiny_data(root):
    """Four smooth random 64x64 GT images and their meta-info file."""
    rng = np.random.default_rng(1)
    os.makedirs(osp.join(root, 'GT'))
    names = [f'{i:03d}.png' for i in range(4)]
    for name in names:
        img = cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
                         (TINY_GT, TINY_GT), interpolation=cv2.INTER_CUBIC)
        iio.imwrite(osp.join(root, 'GT', name), img)
    with open(osp.join(root, 'meta_info_GT.txt'), 'w') as f:
        f.writelines(f'{n} ({TINY_GT},{TINY_GT},3)\n' for n in names)
    return root


@pytest.mark.slow
@pytest.mark.parametrize('path', [BLIND, BLIND_FP16], ids=osp.basename)
def test_blind_config_trains_two_iterations(tmp_path, path):
    data_root = _tiny_data(str(tmp_path / 'data'))
    options = {f'model.{k}': v for k, v in TINY_MODEL.items()}
    options.update({
        'train_dataloader.dataset.data_root': data_root,
        'train_dataloader.num_workers': 0,
        'train_cfg.max_iters': 2,
        'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
        'test_cfg': None, 'test_dataloader': None, 'test_evaluator': None,
        'default_hooks.checkpoint.save_best': None,
        'default_hooks.logger.interval': 1,
        'work_dir': str(tmp_path / 'run'),
    })
    proc = run_python(f'''
        import math
        import glean_plugin
        from mmengine.config import Config
        from mmengine.runner import Runner
        from tests.test_configs_blind import _sized
        cfg = Config.fromfile({path!r})
        cfg.merge_from_dict({options!r})
        dataset = cfg.train_dataloader.dataset
        dataset.pipeline = _sized(dataset.pipeline, {TINY_GT}, {TINY_LQ})
        runner = Runner.from_cfg(cfg)
        runner.train()
        assert runner.iter == 2, runner.iter
        scalars = runner.message_hub.log_scalars
        losses = {{k: v.current() for k, v in scalars.items()
                   if k.startswith('train/loss')}}
        assert 'train/loss_pix' in losses and 'train/loss_gan' in losses, \\
            sorted(losses)
        for key, value in losses.items():
            assert math.isfinite(value), (key, value)
        print('LOSSES', sorted(losses))
        print('BLIND_TRAINED_OK')
    ''', timeout=600)
    assert 'BLIND_TRAINED_OK' in proc.stdout
    assert osp.isfile(tmp_path / 'run' / 'iter_2.pth')


def test_fp16_discriminator_gradients_are_finite():
    """The minibatch-stddev statistic is computed in float32: in float16
    its eps (1e-8) rounded to 0 and sqrt's gradient gave NaN."""
    cfg = Config.fromfile(BLIND_FP16)
    init_default_scope(cfg.default_scope)
    disc_cfg = copy.deepcopy(cfg.model.discriminator)
    disc_cfg.update(in_size=TINY_GT, max_channels=16, init_cfg=None)
    torch.manual_seed(0)
    disc = MODELS.build(disc_cfg).train()
    assert disc.fp16_enabled
    x = torch.randn(2, 3, TINY_GT, TINY_GT, requires_grad=True)
    disc(x).mean().backward()
    assert torch.isfinite(x.grad).all()
    for name, param in disc.named_parameters():
        assert torch.isfinite(param.grad).all(), name
