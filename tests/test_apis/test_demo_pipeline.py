"""The demo pipeline (glean_plugin.apis.demo, tools/demo.py): progress
estimates, the stage-2 configs, the labelled side-by-side image, the
metrics files, and one end-to-end run of a few iterations."""
import json
import os
import os.path as osp
import types

import imageio.v3 as iio
import numpy as np
import pytest
from mmengine.config import Config

from glean_plugin.apis import demo
from tests.support.helpers import PYTHON, REPO_ROOT, run_tool

TOOL = osp.join(REPO_ROOT, 'tools', 'demo.py')
METHODS = ['bicubic', 'GLEAN (trained bank)', 'GLEAN (random bank)',
           'GLEAN (no bank)']


def test_progress_estimate_is_the_median_of_recent_iterations(monkeypatch):
    """A slow first iteration does not inflate the estimate; the demo-wide
    estimate adds what the caller expects for the later stages."""
    clock = iter([0.0,  # before_train
                  10.0, 11.0, 12.0, 100.0])  # iterations 1..4
    monkeypatch.setattr(demo.time, 'monotonic', lambda: next(clock))
    lines = []
    hook = demo.ProgressHook('stage 2/4 x', lines.append,
                             after_s=lambda total: 2 * total,
                             interval_s=1e9)
    runner = types.SimpleNamespace(iter=0, max_iters=10)
    hook.before_train(runner)
    for i in range(3):
        runner.iter = i
        hook.after_train_iter(runner, i, outputs={'loss_pix': 0.5, 'x': 1})
    assert lines == []  # not yet time to report
    assert hook.remaining_s(3, 10) == pytest.approx(7.0)  # median(10, 1, 1)
    hook.interval_s = 0
    runner.iter = 3
    hook.after_train_iter(runner, 3, outputs={'loss_pix': 0.25})
    # times 10, 1, 1, 88: median 5.5, 6 left -> 33 s; total 100 + 33,
    # later stages 2 * 133
    assert lines == ['stage 2/4 x: iter 4/10  1:40 elapsed  ETA 0:33 '
                     '(demo 4:59)  loss_pix 0.2500']


def test_stage_two_configs(tmp_path):
    args = types.SimpleNamespace(
        data_root=str(tmp_path / 'data'), work_dir=str(tmp_path / 'work'),
        glean_config=osp.join(REPO_ROOT, 'configs', 'glean_demo_x8.py'),
        glean_iters=7)
    bank = Config(dict(model=dict(generator=dict(
        type='x', out_size=32, style_channels=16, num_mlps=3,
        max_channels=48))))
    configs = demo.glean_configs(args.glean_config, args.data_root,
                                 args.work_dir, bank, 'bank.pth',
                                 args.glean_iters)
    assert [v.method for v in configs] == METHODS[1:]
    experiment_names = set()
    for variant, cfg in configs.items():
        gen = cfg.model.generator
        assert (gen.in_size, gen.out_size, gen.style_channels, gen.num_mlps,
                gen.max_channels) == (4, 32, 16, 3, 48)
        assert cfg.train_cfg.max_iters == 7
        assert cfg.param_scheduler.T_max == 7
        assert cfg.default_hooks.checkpoint.interval == 7
        assert cfg.work_dir == osp.join(args.work_dir, variant.slug)
        assert cfg.train_dataloader.dataset.data_root == osp.join(
            args.data_root, 'train')
        assert cfg.val_dataloader.dataset.data_root == osp.join(
            args.data_root, 'val')
        assert cfg.randomness.seed == 0  # the same seed for every variant
        experiment_names.add(cfg.experiment_name)
        if variant.bank == 'trained':
            assert gen.init_cfg == dict(type='Pretrained',
                                        checkpoint='bank.pth',
                                        prefix='generator_ema')
        else:
            assert gen.init_cfg is None
        assert gen.get('decoder_bank_res') == (0 if variant.bank == 'none'
                                               else None)
    assert len(experiment_names) == 3  # one message hub each


def test_labelled_grid_has_a_named_column_per_method():
    lrs = [np.full((4, 4, 3), 10, np.uint8)] * 3
    srs = [np.full((32, 32, 3), 200, np.uint8)] * 3
    grid = demo.labelled_grid([('LR x8', lrs), ('GLEAN (no bank)', srs)],
                              rows=[0, 2])
    tile = demo.MIN_TILE
    assert grid.shape == (demo.LABEL_HEIGHT + 2 * tile, 2 * tile, 3)
    header = grid[:demo.LABEL_HEIGHT]
    for col in range(2):  # text in each column's label
        assert (header[:, col * tile:(col + 1) * tile] < 128).any()
    assert (grid[demo.LABEL_HEIGHT:, :tile] == 10).all()  # LR enlarged
    assert (grid[demo.LABEL_HEIGHT:, tile:] == 200).all()


def test_metrics_files(tmp_path):
    rows = [{'method': m, 'psnr': 20.0 + i, 'ssim': 0.5}
            for i, m in enumerate(METHODS)]
    json_path, md_path = demo.write_metrics(str(tmp_path), rows, 'a note')
    with open(json_path) as f:
        assert json.load(f) == rows
    with open(md_path) as f:
        text = f.read()
    assert '| GLEAN (random bank) | 22.00 | 0.5000 |' in text
    assert text.rstrip().endswith('a note')


def test_latest_samples(tmp_path):
    assert demo.latest_samples(str(tmp_path)) is None
    os.makedirs(tmp_path / 'samples')
    for name in ('iter_20.png', 'iter_100.png', 'iter_3.png', 'notes.txt',
                 'iter_x.png'):
        (tmp_path / 'samples' / name).write_bytes(b'')
    assert demo.latest_samples(str(tmp_path)).endswith('iter_100.png')


def test_samples_are_copied_enlarged(tmp_path):
    src = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    iio.imwrite(tmp_path / 'a.png', src)
    demo.copy_enlarged(str(tmp_path / 'a.png'), str(tmp_path / 'b.png'),
                       min_side=9)
    big = iio.imread(tmp_path / 'b.png')
    assert big.shape == (10, 15, 3)  # factor 5: the short side 2 -> 10
    assert (big[::5, ::5] == src).all() and (big[4::5, 4::5] == src).all()


def test_bank_settings_take_what_glean_shares():
    cfg = Config(dict(model=dict(generator=dict(
        type='x', out_size=32, style_channels=16, num_mlps=3, lr_mlp=0.1))))
    assert demo.bank_settings(cfg) == dict(out_size=32, style_channels=16,
                                           num_mlps=3)


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    """Both stages, a few iterations each: every output, every method."""
    from glean_plugin.datasets import build_demo_dataset
    data = str(tmp_path / 'data')
    build_demo_dataset(data, train_faces=4, val_faces=3, train_crops=1)
    work = tmp_path / 'work'
    proc = run_tool([PYTHON, TOOL, '--data-root', data, '--work-dir',
                     str(work), '--bank-iters', '2', '--glean-iters', '2'])
    assert proc.returncode == 0, proc.stderr[-4000:]
    for stage in ('stage 1/4 StyleGAN2', 'stage 2/4 GLEAN (trained bank)',
                  'stage 3/4 GLEAN (random bank)',
                  'stage 4/4 GLEAN (no bank)'):
        assert f'{stage}' in proc.stdout
    with open(work / 'metrics.json') as f:
        rows = json.load(f)
    assert [r['method'] for r in rows] == METHODS
    assert all(set(r) == {'method', 'psnr', 'ssim'} for r in rows)
    assert len({r['psnr'] for r in rows}) == 4  # four different models
    grid = iio.imread(work / 'side_by_side.png')
    assert grid.shape[1] == 6 * demo.MIN_TILE  # LR, 4 methods, GT
    samples = iio.imread(work / 'stylegan2_samples.png')
    assert min(samples.shape[:2]) >= 4 * demo.MIN_TILE


def test_stage_one_config(tmp_path):
    cfg = demo.bank_config(osp.join(REPO_ROOT, 'configs', 'stylegan2_demo.py'),
                           str(tmp_path / 'data'), str(tmp_path / 'work'), 5)
    assert cfg.train_cfg.max_iters == 5
    assert cfg.default_hooks.checkpoint.interval == 5
    assert cfg.work_dir == str(tmp_path / 'work' / 'stylegan2')
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path / 'data' /
                                                         'train')
    assert cfg.log_level == demo.STAGE_LOG_LEVEL
    assert 'FiniteLossHook' in [h['type'] for h in cfg.custom_hooks]
