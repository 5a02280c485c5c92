"""Training StyleGAN2 latent banks with the stock runner: the plugin's
configs with tools/train.py, MMagic's own StyleGAN2 config with the drop-in,
and the trained bank loaded strictly into GLEANNet."""
import json
import os.path as osp

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import CheckpointLoader

from glean_plugin import GLEANDiscriminator, GLEANNet, StyleGAN2Generator
from glean_plugin.registry import MODELS
from tests.support.helpers import PYTHON, REPO_ROOT, run_python, run_tool

DEMO = 'configs/stylegan2_demo.py'
FOLDER_256 = 'configs/stylegan2_folder_256.py'
# A bank small enough for a test: 4 channels everywhere, one mapping layer.
TINY_BANK = dict(style_channels=4, num_mlps=1, max_channels=4)
TINY = [f'model.generator.{k}={v}' for k, v in TINY_BANK.items()] + [
    'model.discriminator.max_channels=4', 'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0', 'default_hooks.logger.interval=1']
CHECKPOINT_PARTS = {'generator', 'generator_ema', 'discriminator',
                    'mean_path_length'}
LOSSES = ('loss_disc_fake', 'loss_disc_real', 'loss_r1_gp', 'loss_gen',
          'loss_path_regular')


def train(config, work_dir, *options, resume=False):
    args = [PYTHON, 'tools/train.py', config, '--work-dir', work_dir]
    proc = run_tool(args + (['--resume'] if resume else []) +
                    ['--cfg-options', *TINY, *options])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def load(path):
    return CheckpointLoader.load_checkpoint(path, map_location='cpu')


def under(state, prefix):
    head = prefix + '.'
    return {k[len(head):]: v for k, v in state.items() if k.startswith(head)}


def train_records(work_dir):
    path = osp.join(work_dir, '*', 'vis_data', 'scalars.json')
    import glob
    records = []
    for name in sorted(glob.glob(path)):
        records += [json.loads(line) for line in open(name)]
    return [r for r in records if 'loss_gen' in r]


@pytest.mark.parametrize('path', [DEMO, FOLDER_256], ids=osp.basename)
def test_config_builds_mmagic_stylegan2(path):
    import mmagic.models  # noqa: F401  (registers StyleGAN2)
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    init_default_scope(cfg.default_scope)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'StyleGAN2'
    assert type(model.generator) is StyleGAN2Generator
    assert type(model.generator_ema.module) is StyleGAN2Generator
    assert type(model.discriminator) is GLEANDiscriminator
    size = cfg.model.generator.out_size
    assert cfg.model.discriminator.in_size == size
    assert size == (32 if path == DEMO else 256)
    loss = cfg.model.loss_config
    assert (loss.r1_interval, loss.g_reg_interval) == (16, 4)
    gamma = 0.3 if path == DEMO else 10.  # R1 weight: gamma / 2 x interval
    assert loss.r1_loss_weight == pytest.approx(gamma / 2 * 16)
    assert loss.g_reg_weight == 2 * 4
    # every run ends with a checkpoint and a sample grid
    assert cfg.train_cfg.max_iters % cfg.default_hooks.checkpoint.interval \
        == 0
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert {'SampleGridHook', 'EMACheckpointLayoutHook'} <= set(hooks)
    data = cfg.train_dataloader.dataset
    assert (data.data_prefix.gt, data.ann_file) == ('GT', 'meta_info_GT.txt')


def test_demo_bank_fits_the_glean_demo_configs():
    """The GLEAN demo configs take the demo bank without further options."""
    bank = Config.fromfile(osp.join(REPO_ROOT, DEMO)).model.generator
    for name in ('glean_demo.py', 'glean_demo_x8.py'):
        gen = Config.fromfile(osp.join(REPO_ROOT, 'configs', name)).model.\
            generator
        for key in ('out_size', 'style_channels', 'num_mlps', 'max_channels'):
            assert gen[key] == bank[key], (name, key)


@pytest.mark.slow
def test_demo_bank_loads_into_glean_and_resumes(tmp_path, tiny_data):
    """4 iterations of the demo config; the EMA generator is GLEAN's bank;
    --resume keeps the EMA's step count."""
    work_dir = str(tmp_path / 'run')
    data = f'train_dataloader.dataset.data_root={tiny_data}/train'
    train(DEMO, work_dir, data, 'train_cfg.max_iters=4',
          'default_hooks.checkpoint.interval=2')
    ckpt_path = osp.join(work_dir, 'iter_4.pth')
    ckpt = load(ckpt_path)
    state = ckpt['state_dict']
    assert {k.split('.')[0] for k in state} == CHECKPOINT_PARTS
    assert ckpt['meta']['generator_ema_steps'] == 4
    # R1 and path length ran (iteration 0), every loss is finite
    records = train_records(work_dir)
    assert [r['step'] for r in records] == [1, 2, 3, 4]
    assert all(k in records[0] and np.isfinite(records[0][k]) for k in LOSSES)

    # one sample grid per checkpoint: 16 images of 32x32, 4 a row
    for it in (2, 4):
        grid = iio.imread(osp.join(work_dir, 'samples', f'iter_{it}.png'))
        assert grid.shape == (4 * 34 + 2, 4 * 34 + 2, 3)

    glean = GLEANNet(in_size=4, out_size=32, rrdb_channels=4, num_rrdbs=1,
                     **TINY_BANK, init_cfg=dict(type='Pretrained',
                                                checkpoint=ckpt_path,
                                                prefix='generator_ema'))
    glean.init_weights()
    bank = glean.generator.state_dict()
    ema, raw = under(state, 'generator_ema'), under(state, 'generator')
    assert bank.keys() == ema.keys()
    for key, value in bank.items():
        assert torch.equal(value, ema[key]), key
    # the EMA really averages: it is not the trained generator
    assert any(not torch.equal(raw[k], ema[k]) for k in ema
               if ema[k].is_floating_point() and 'injected_noise' not in k)

    train(DEMO, work_dir, data, 'train_cfg.max_iters=6',
          'default_hooks.checkpoint.interval=2', resume=True)
    assert load(osp.join(work_dir, 'iter_6.pth'))['meta'][
        'generator_ema_steps'] == 6


@pytest.mark.slow
def test_folder_256_config_on_a_prepared_folder(tmp_path):
    """tools/prepare_data.py's folder layout trains with the 256 config."""
    src = tmp_path / 'photos'
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        iio.imwrite(src / f'p{i}.png',
                    rng.integers(0, 256, (300, 270, 3), dtype=np.uint8))
    out = tmp_path / 'prepared'
    proc = run_tool([PYTHON, 'tools/prepare_data.py', 'folder', str(src),
                     str(out), '--size', '256', '--fit', 'center-crop'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    work_dir = str(tmp_path / 'run')
    train(FOLDER_256, work_dir, f'train_dataloader.dataset.data_root={out}',
          'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2',
          'custom_hooks.2.num_samples=2')
    state = load(osp.join(work_dir, 'iter_2.pth'))['state_dict']
    assert {k.split('.')[0] for k in state} == CHECKPOINT_PARTS
    grid = iio.imread(osp.join(work_dir, 'samples', 'iter_2.png'))
    assert grid.shape == (256 + 4, 2 * 258 + 2, 3)


@pytest.mark.slow
def test_mmagic_stylegan2_config_trains_with_dropin(tmp_path, tiny_data):
    """MMagic's own FFHQ-256 StyleGAN2 config, made tiny with options as
    --cfg-options gives them, 2 iterations on CPU without compiled ops."""
    options = {
        'model.generator.out_size': 32,
        'model.generator.max_channels': 4,
        'model.generator.style_channels': 4,
        'model.generator.num_mlps': 1,
        'model.discriminator.in_size': 32,
        'model.discriminator.max_channels': 4,
        'train_dataloader.dataset.data_root': f'{tiny_data}/train/GT',
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_iters': 2,
        # FID etc. need Inception weights (a download): no validation
        'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
        'test_cfg': None, 'test_dataloader': None, 'test_evaluator': None,
        'default_hooks.checkpoint.save_best': None,
        'work_dir': str(tmp_path / 'run'),
    }
    leaf = tmp_path / 'stylegan2_ffhq_dropin.py'
    leaf.write_text(
        "_base_ = 'mmagic::styleganv2/"
        "stylegan2_c2_8xb4-800kiters_ffhq-256x256.py'\n"
        "custom_imports = dict(imports=['glean_plugin.dropin'], "
        'allow_failed_imports=False)\n')
    proc = run_python(f'''
        import math
        from mmengine.config import Config
        from mmengine.runner import Runner
        cfg = Config.fromfile({str(leaf)!r})
        cfg.merge_from_dict({options!r})
        # MMagic's own betas (0, 0.99 ** ratio), an int beside a float
        assert cfg.optim_wrapper.generator.optimizer.betas[0] == 0
        runner = Runner.from_cfg(cfg)
        from glean_plugin import GLEANDiscriminator, StyleGAN2Generator
        model = runner.model
        assert type(model.generator) is StyleGAN2Generator
        assert type(model.discriminator) is GLEANDiscriminator
        runner.train()
        assert runner.iter == 2
        hub = runner.message_hub
        for key in {list(LOSSES)!r}:
            value = hub.get_scalar('train/' + key).data[0][0]
            assert math.isfinite(value), (key, value)
        print('MMAGIC_CONFIG_OK')
    ''', timeout=300)
    assert 'MMAGIC_CONFIG_OK' in proc.stdout
    state = load(str(tmp_path / 'run' / 'iter_2.pth'))['state_dict']
    # MMagic's own runtime: the EMA wrapper's layout (no layout hook)
    assert 'generator_ema.steps' in state
    assert under(state, 'generator_ema.module').keys() == \
        under(state, 'generator').keys()


def test_folder_256_bank_fits_glean_cat_8x(tmp_path):
    """A checkpoint of stylegan2_folder_256.py (as saved: model-zoo layout)
    initialises glean_cat_8x.py's GLEANNet and discriminator strictly with
    only the checkpoint path changed."""
    import mmagic.models  # noqa: F401  (registers StyleGAN2)

    from glean_plugin.engine import EMACheckpointLayoutHook
    cfg = Config.fromfile(osp.join(REPO_ROOT, FOLDER_256))
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    for p in model.generator_ema.module.parameters():
        p.data.add_(1e-3)  # tell the EMA from the generator
    checkpoint = dict(meta={}, state_dict=model.state_dict())
    EMACheckpointLayoutHook().before_save_checkpoint(None, checkpoint)
    path = str(tmp_path / 'bank.pth')
    torch.save(checkpoint, path)
    del checkpoint

    glean_cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs',
                                         'glean_cat_8x.py'))
    for part in ('generator', 'discriminator'):
        glean_cfg.model[part].init_cfg.checkpoint = path
    glean = MODELS.build(glean_cfg.model.generator)
    glean.init_weights()
    for key, value in model.generator_ema.module.state_dict().items():
        assert torch.equal(glean.generator.state_dict()[key], value), key
    disc = MODELS.build(glean_cfg.model.discriminator)
    disc.init_weights()
    for key, value in model.discriminator.state_dict().items():
        assert torch.equal(disc.state_dict()[key], value), key
