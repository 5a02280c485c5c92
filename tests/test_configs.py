"""Every config loads, builds its model, and states the paper's settings."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from glean_plugin.registry import MODELS
from helpers import REPO_ROOT

CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*.py')))
LEAVES = [c for c in CONFIGS if not osp.basename(c).startswith('glean_demo')]
BATCH_LINE = re.compile(r'written for (\d+) GPUs x (\d+) images = (\d+)')


def _batch_statement(path):
    """The 'written for G GPUs x B images = T' line, following _base_."""
    text = open(path).read()
    match = BATCH_LINE.search(text)
    if match:
        return match
    base = re.search(r"_base_ = '\./(.+?)'", text).group(1)
    return _batch_statement(osp.join(osp.dirname(path), base))


def _without_pretrained(model_cfg):
    for part in ('generator', 'discriminator'):
        model_cfg[part]['init_cfg'] = None
    model_cfg['perceptual_loss']['pretrained'] = None
    return model_cfg


def test_config_set_is_complete():
    names = {osp.basename(c) for c in CONFIGS}
    for required in ('glean_cat_8x.py', 'glean_cat_16x.py',
                     'glean_ffhq_16x.py', 'glean_celebahq_64x.py',
                     'glean_church_16x.py', 'glean_demo.py',
                     'glean_cat_8x-fp16.py', 'glean_cat_8x-bf16.py'):
        assert required in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    import mmagic.models  # noqa: F401
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    gen = cfg.model.generator
    assert cfg.model.discriminator.in_size == gen.out_size
    model_cfg = _without_pretrained(cfg.model)
    with torch.device('meta'):  # checks construction without the memory
        model = MODELS.build(model_cfg)
    assert type(model).__name__ == 'SRGAN'
    assert type(model.generator).__name__ == 'GLEANNet'
    assert cfg.model_wrapper_cfg.type == 'GLEANSeparateDDP'


@pytest.mark.parametrize('path', LEAVES, ids=osp.basename)
def test_paper_hyper_parameters(path):
    cfg = Config.fromfile(path)
    for part in ('generator', 'discriminator'):
        optim = cfg.optim_wrapper[part].optimizer
        assert (optim.type, optim.lr, tuple(optim.betas)) == (
            'Adam', 1e-4, (0.9, 0.99))
    assert cfg.train_cfg.max_iters == 300_000
    assert cfg.param_scheduler.type == 'CosineAnnealingLR'
    assert cfg.param_scheduler.T_max == cfg.train_cfg.max_iters
    assert cfg.model.perceptual_loss.perceptual_weight == 1e-2
    assert cfg.model.gan_loss.loss_weight == 1e-2
    assert cfg.model.pixel_loss.type == 'MSELoss'
    ckpt = cfg.model.generator.init_cfg.checkpoint
    assert ckpt == cfg.model.discriminator.init_cfg.checkpoint
    assert cfg.model.generator.init_cfg.prefix == 'generator_ema'
    # the header states how the per-GPU batch gives the paper's total batch
    match = _batch_statement(path)
    gpus, per_gpu, total = map(int, match.groups())
    assert per_gpu == cfg.train_dataloader.batch_size
    assert gpus * per_gpu == total
    faces = 'ffhq' in path or 'celebahq' in path
    assert total == (8 if faces else 16)


def test_mission_command_config_is_cat_8x():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'glean_cat_8x.py'))
    assert (cfg.model.generator.in_size, cfg.model.generator.out_size) == (
        32, 256)
    assert 'stylegan2-cat' in cfg.model.generator.init_cfg.checkpoint
    assert cfg.train_dataloader.dataset.data_prefix.img == 'BIx8_down'
