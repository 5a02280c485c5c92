"""Every config loads, builds its model, and states the paper's settings."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from glean_plugin.registry import MODELS
from tests.support.helpers import REPO_ROOT

ABLATIONS = sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs', 'ablations', '*.py')))
# GLEAN's configs; the StyleGAN2 bank configs (stylegan2_*.py) are checked in
# test_engine/test_stylegan2_training.py.
CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', 'glean_*.py'))) + \
    ABLATIONS
LEAVES = [c for c in CONFIGS if not osp.basename(c).startswith('glean_demo')]
BATCH_LINE = re.compile(r'written for (\d+) GPUs x (\d+) images = (\d+)')


def _batch_statement(path):
    """The 'written for G GPUs x B images = T' line, following _base_."""
    text = open(path).read()
    match = BATCH_LINE.search(text)
    if match:
        return match
    base = re.search(r"_base_ = '(\.\.?/.+?)'", text).group(1)
    return _batch_statement(osp.normpath(osp.join(osp.dirname(path), base)))


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
                     'glean_cat_8x-fp16.py', 'glean_cat_8x-bf16.py',
                     'glean_car_8x.py', 'glean_car_16x.py',
                     'glean_x8-latent-only_8xb2_cat.py',
                     'glean_x8-no-decoder_8xb2_cat.py'):
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


# The one generator key each ablation changes, and its value.
ABLATION_KEYS = {
    'glean_x8-latent-only_8xb2_cat.py': ('encoder_fusion_res', 0),
    'glean_x8-encfeat-to4_8xb2_cat.py': ('encoder_fusion_res', 4),
    'glean_x8-encfeat-to8_8xb2_cat.py': ('encoder_fusion_res', 8),
    'glean_x8-encfeat-to16_8xb2_cat.py': ('encoder_fusion_res', 16),
    'glean_x8-no-bankfeat_8xb2_cat.py': ('decoder_bank_res', 0),
    'glean_x8-bankfeat-to64_8xb2_cat.py': ('decoder_bank_res', 64),
    'glean_x8-bankfeat-to128_8xb2_cat.py': ('decoder_bank_res', 128),
    'glean_x8-no-decoder_8xb2_cat.py': ('use_decoder', False),
}


def test_every_ablation_is_listed():
    assert sorted(osp.basename(p) for p in ABLATIONS) == sorted(ABLATION_KEYS)


@pytest.mark.parametrize('path', ABLATIONS, ids=osp.basename)
def test_ablation_changes_one_generator_key_of_cat_8x(path):
    base = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'glean_cat_8x.py'))
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    assert cfg.experiment_name == name[:-len('.py')]
    assert cfg.work_dir == f'./work_dirs/{cfg.experiment_name}'
    key, value = ABLATION_KEYS[name]
    gen = cfg.model.generator.to_dict()
    base_gen = base.model.generator.to_dict()
    assert gen.pop(key) == value and key not in base_gen
    assert gen == base_gen
    # everything else is glean_cat_8x's
    skip = {'model', 'experiment_name', 'work_dir', 'filename', 'text'}
    assert set(cfg.keys()) == set(base.keys())
    for k in set(cfg.keys()) - skip:
        assert cfg[k] == base[k], k
    model, base_model = cfg.model.to_dict(), base.model.to_dict()
    model.pop('generator'), base_model.pop('generator')
    assert model == base_model


@pytest.mark.parametrize('name,in_shape,in_size,lr_folder', [
    ('glean_car_8x.py', (48, 64), 64, 'BIx8_down'),
    ('glean_car_16x.py', (24, 32), 32, 'BIx16_down'),
])
def test_car_configs_pad_to_the_square_bank(name, in_shape, in_size,
                                            lr_folder):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', name))
    gen, disc = cfg.model.generator, cfg.model.discriminator
    assert (gen.in_size, gen.out_size) == (in_size, 512)
    assert tuple(gen.in_shape) == in_shape
    assert tuple(disc.in_shape) == (384, 512)  # the generator's output
    assert 'pad_value' not in gen and 'pad_value' not in disc  # black, -1
    assert gen.init_cfg.checkpoint.endswith(
        'stylegan2-car-config-f-official_20210327_172340-8cfe053c.pth')
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert loader.dataset.data_prefix.img == lr_folder
    # black is -1 after the data preprocessor's normalisation
    pre = cfg.model.data_preprocessor
    assert all((0 - m) / s == -1 for m, s in zip(pre.mean, pre.std))
