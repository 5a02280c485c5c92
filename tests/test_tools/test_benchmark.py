"""tools/benchmark.py end to end: demo data, a tiny GLEAN, small MMagic EDSRs.

One subprocess run benchmarks bicubic, our GLEAN, an EDSR of the data's scale,
one of twice the scale (skipped: wrong scale) and a broken checkpoint
(skipped); the other cases fail before any model runs and call the tool's
``main`` (``glean_plugin.analysis.benchmark_cli``) in this process (it
imports glean_plugin.dropin only once models are about to run).
"""
import csv
import json
import os
import os.path as osp
import re
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from mmengine.config import Config

from glean_plugin import cli
from glean_plugin.analysis import benchmark_cli
from glean_plugin.analysis.report import exit_status
from glean_plugin.apis import matlab_resize, read_image
from glean_plugin.datasets import build_demo_dataset
from glean_plugin.registry import MODELS
from tests.support.helpers import PYTHON, REPO_ROOT, run_tool
from tests.support.tiny_glean import CONFIG, OUT_SIZE, SCALE, save_checkpoint

TOOL = osp.join(REPO_ROOT, 'tools', 'benchmark.py')
EDSR_BASE = 'mmagic::edsr/edsr_x4c64b16_1xb16-300k_div2k.py'
NUM_IMAGES = 4  # held-out faces
# an EDSR of the data's scale runs, one of twice the scale is skipped
FIT, UNFIT = f'edsr_x{SCALE}', f'edsr_x{2 * SCALE}'
GRID_COLUMNS = 5  # LR | bicubic | GLEAN | EDSR (fit) | GT


def write_edsr(folder, scale):
    """A small EDSR config inheriting MMagic's, and a random checkpoint."""
    config = osp.join(folder, f'edsr_x{scale}.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = '{EDSR_BASE}'\n"
                'model = dict(generator=dict(mid_channels=8, num_blocks=1, '
                f'upscale_factor={scale}))\n')
    torch.manual_seed(scale)
    generator = MODELS.build(Config.fromfile(config).model.generator)
    checkpoint = osp.join(folder, f'edsr_x{scale}.pth')
    torch.save({'state_dict': {f'generator.{k}': v for k, v in
                               generator.state_dict().items()}, 'meta': {}},
               checkpoint)
    return config, checkpoint


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('models'))
    broken = osp.join(folder, 'broken.pth')
    with open(broken, 'w') as f:
        f.write('not a checkpoint')
    return dict(glean=save_checkpoint(osp.join(folder, 'glean.pth')),
                **{FIT: write_edsr(folder, SCALE),
                   UNFIT: write_edsr(folder, 2 * SCALE)},
                broken=broken)


@pytest.fixture(scope='module')
def val_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('data') / 'demo')
    build_demo_dataset(root, train_faces=1, val_faces=NUM_IMAGES,
                       train_crops=1)
    return osp.join(root, 'val')


@pytest.fixture(scope='module')
def run(models, val_dir, tmp_path_factory):
    """The end-to-end run: (process, out_dir, torch home)."""
    out_dir = str(tmp_path_factory.mktemp('bench') / 'out')
    torch_home = str(tmp_path_factory.mktemp('torch_home'))  # empty cache
    proc = run_tool([
        PYTHON, TOOL, '--configs', 'bicubic', CONFIG, models[FIT][0],
        models[UNFIT][0], CONFIG, '--checkpoints', models['glean'],
        models[FIT][1], models[UNFIT][1], models['broken'],
        '--data', val_dir, '--scale', str(SCALE), '--out-dir', out_dir,
        '--lpips-random', '--identity', '--device', 'cpu', '--warmup', '1',
        '--repeats', '2', '--threads', '1'  # a shared CPU: no oversubscription
    ], env=dict(TORCH_HOME=torch_home))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc, out_dir


def load_json(out_dir):
    with open(osp.join(out_dir, 'benchmark.json')) as f:
        return json.load(f)


@pytest.mark.slow
def test_table_rows_and_skipped_models(run):
    proc, out_dir = run
    with open(osp.join(out_dir, 'benchmark.md')) as f:
        markdown = f.read()
    assert markdown in proc.stdout  # printed and written
    rows = {line.split(' | ')[0][2:]: line for line in markdown.splitlines()
            if line.startswith('| ') and not line.startswith('| model')}
    assert list(rows) == ['bicubic', 'glean_demo:glean', FIT, UNFIT,
                          'glean_demo:broken']
    for name in ('bicubic', 'glean_demo:glean', FIT):
        cells = [c.strip() for c in rows[name].strip('| ').split(' | ')]
        assert cells[-1] == 'ok', rows[name]
        psnr, ssim, lpips = map(float, cells[1:4])  # numbers, not n/a
        assert psnr > 0 and 0 < ssim <= 1 and lpips >= 0
        assert cells[4] == 'n/a'  # identity: no weights
    assert rows[UNFIT].endswith(
        f'| skipped: x{2 * SCALE} model (8x8 -> {16 * SCALE}x{16 * SCALE}, '
        f'WxH), the data is x{SCALE} (BIx{SCALE}_down) |')
    # a text file is refused as a checkpoint (by whichever check sees it)
    assert re.search(r'\| skipped: \w+Error: ', rows['glean_demo:broken'])
    assert '| LPIPS* | ID sim |' in markdown
    assert '* lpips: RANDOM weights' in markdown
    assert 'identity: unavailable: ArcFace IR-SE50 weights are not' in \
        markdown
    assert f'warning: skipped {UNFIT}: x{2 * SCALE} model' in proc.stderr
    assert 'warning: identity unavailable: ' in proc.stderr
    assert 'warning: lpips uses random weights' in proc.stderr
    assert 'Traceback' not in proc.stderr


@pytest.mark.slow
def test_json_and_csv_values(run, val_dir):
    _, out_dir = run
    report = load_json(out_dir)
    assert report['data']['num_images'] == NUM_IMAGES
    assert report['settings']['networks']['lpips']['random'] is True
    identity = report['settings']['networks']['identity']
    assert not identity['available'] and 'Arcface' in identity['reason']
    models = {m['name']: m for m in report['models']}
    bicubic = models['bicubic']
    # PSNR of the bicubic row, recomputed by hand from the files
    with open(osp.join(val_dir, 'meta_info_GT.txt')) as f:
        names = [line.split()[0] for line in f if line.strip()]
    psnrs = []
    for name in names:
        gt = read_image(osp.join(val_dir, 'GT', name)).astype(np.float64)
        lr = read_image(osp.join(val_dir, f'BIx{SCALE}_down', name))
        up = matlab_resize(lr, gt.shape[:2]).astype(np.float64)
        psnrs.append(10 * np.log10(255.**2 / np.mean((up - gt)**2)))
    assert [p['image'] for p in bicubic['per_image']] == names
    # MMagic's psnr() averages in float32: equal to ~1e-7 dB
    for entry, expected in zip(bicubic['per_image'], psnrs):
        assert entry['psnr'] == pytest.approx(expected, abs=1e-5)
    assert bicubic['psnr'] == pytest.approx(np.mean(psnrs), abs=1e-5)
    assert bicubic['psnr'] == pytest.approx(
        np.mean([p['psnr'] for p in bicubic['per_image']]), abs=1e-12)
    assert bicubic['params'] == 0 and bicubic['gflops'] is None
    glean = models['glean_demo:glean']
    for key in ('psnr', 'ssim', 'lpips', 'gflops', 'latency_ms',
                'peak_memory_mib'):
        assert glean[key] > 0, key
    assert glean['identity'] is None and len(glean['latency_s']) == 2
    assert models[FIT]['params'] < glean['params']
    assert models[UNFIT]['status'] == 'skipped'
    assert models[UNFIT]['scale'] == 2 * SCALE
    with open(osp.join(out_dir, 'benchmark.csv')) as f:
        rows = list(csv.DictReader(f))
    assert [r['name'] for r in rows] == list(models)
    assert float(rows[0]['psnr']) == pytest.approx(bicubic['psnr'])


@pytest.mark.slow
def test_grid_has_one_column_per_model(run):
    _, out_dir = run
    grid = iio.imread(osp.join(out_dir, 'benchmark_grid.png'))
    assert grid.shape == (NUM_IMAGES * OUT_SIZE, GRID_COLUMNS * OUT_SIZE, 3)
    assert load_json(out_dir)['grid']['columns'] == [
        'LR (nearest)', 'bicubic', 'glean_demo:glean', FIT, 'GT']


def run_in_process(args, monkeypatch, capsys):
    """(status, stdout, stderr) of ``tools/benchmark.py args``."""
    monkeypatch.setattr(sys, 'argv', [TOOL] + [str(a) for a in args])
    # other tests (test_dropin, in-process tool runs) may have imported the
    # drop-in already; this run must not be the one importing it
    had_dropin = 'glean_plugin.dropin' in sys.modules
    try:
        status = cli.run_tool(benchmark_cli.main)
    except SystemExit as exit_:  # argparse
        status = exit_.code
    captured = capsys.readouterr()
    assert had_dropin or 'glean_plugin.dropin' not in sys.modules
    return status, captured.out, captured.err


def test_refuses_to_overwrite_and_bad_arguments(models, val_dir, tmp_path,
                                                monkeypatch, capsys):
    out_dir = tmp_path / 'earlier'  # results of an earlier run
    out_dir.mkdir()
    (out_dir / 'benchmark.json').write_text('{}\n')
    out_dir = str(out_dir)
    before = os.stat(osp.join(out_dir, 'benchmark.json')).st_mtime_ns
    status, _, err = run_in_process(
        ['--configs', 'bicubic', '--data', val_dir, '--scale', SCALE,
         '--out-dir', out_dir], monkeypatch, capsys)
    assert status == 2 and 'error: results exist: ' in err
    assert '--overwrite' in err
    assert os.stat(osp.join(out_dir, 'benchmark.json')).st_mtime_ns == before

    fresh = tmp_path / 'out'
    status, _, err = run_in_process(
        ['--configs', 'bicubic', '--data', tmp_path / 'none', '--out-dir',
         fresh], monkeypatch, capsys)
    assert status == 2 and 'error: data folder not found' in err
    status, _, err = run_in_process(
        ['--configs', CONFIG, models[FIT][0], '--checkpoints',
         models['glean'], '--data', val_dir, '--out-dir', fresh],
        monkeypatch, capsys)
    assert status == 2
    assert ("error: 2 config(s) besides 'bicubic' but 1 checkpoint(s)"
            in err)
    status, _, err = run_in_process(
        ['--configs', 'bicubic', '--data', val_dir, '--out-dir', fresh],
        monkeypatch, capsys)
    assert status == 2 and 'BIx4_down, BIx8_down): give the scale' in err
    status, _, err = run_in_process(
        ['--configs', 'bicubic', '--data', val_dir, '--identity-random'],
        monkeypatch, capsys)
    assert status == 2 and '--identity-random need --identity' in err
    status, _, err = run_in_process(
        ['--configs', 'bicubic', '--data', val_dir, '--repeats', '0'],
        monkeypatch, capsys)
    assert status == 2 and 'expected an integer >= 1, got 0' in err
    assert not fresh.exists()


def test_exit_status_when_nothing_could_be_benchmarked():
    from glean_plugin.apis.benchmark import BenchmarkResult
    bicubic = BenchmarkResult('bicubic')
    skipped = BenchmarkResult('m', 'm.py', 'm.pth', status='skipped',
                              reason='x4 model')
    ok = BenchmarkResult('n', 'n.py', 'n.pth')
    assert exit_status([bicubic]) == 0
    assert exit_status([bicubic, skipped]) == 1
    assert exit_status([bicubic, skipped, ok]) == 0
