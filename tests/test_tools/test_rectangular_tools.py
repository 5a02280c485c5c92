"""tools/infer.py, tools/retouch.py and tools/benchmark.py on a tiny
rectangular model (glean_car_8x with a reduced channel table: 6x8 -> 48x64,
height x width; 8x6 -> 64x48 as WxH in messages).

One subprocess run of each tool; the error and --resize paths call the
tools' ``main`` in this process.
"""
import json
import os.path as osp

import imageio.v3 as iio
import numpy as np
import pytest

from glean_plugin.apis import (ImageQuality, fit_input_shape, matlab_resize,
                               super_resolve)
from glean_plugin.datasets import matlab_downsample
from tests.support.helpers import PYTHON, REPO_ROOT, run_tool
# car, generator: fixtures (tests/conftest.py's pytest_plugins)
from tests.support.tiny_car import IN_SHAPE, OUT_SHAPE, ROUNDING, SCALE, image
from tests.test_tools.tool_runner import (INFER, RETOUCH, assert_user_error,
                                          run_in_process, write_images)

BENCHMARK = [PYTHON, osp.join(REPO_ROOT, 'tools', 'benchmark.py')]
# GLEANNet's default pad_value (-1) with the car config's normalisation
BLACK = (0, 0, 0)


def max_diff(a, b) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


# ----------------------------------------------------------------- infer

@pytest.mark.slow
def test_infer_takes_the_input_shape_and_writes_the_output_shape(
        car, generator, tmp_path):
    images = [image(*IN_SHAPE, seed=s) for s in range(2)]
    in_dir = write_images(tmp_path / 'in', images)
    out_dir = str(tmp_path / 'out')
    proc = run_tool(INFER + [*car, in_dir, out_dir, '--batch-size', '2',
                             '--device', 'cpu', '--no-progress'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'wrote 2 image(s)' in proc.stdout
    for i, ref in enumerate(super_resolve(generator, images)):
        out = iio.imread(osp.join(out_dir, f'img{i}.png'))
        assert out.shape == OUT_SHAPE + (3, )
        assert max_diff(out, ref) <= ROUNDING


def test_infer_refuses_other_shapes_and_writes_nothing(car, tmp_path,
                                                       monkeypatch, capsys):
    # a square image, and the input shape transposed
    in_dir = write_images(tmp_path / 'in', [image(8, 8), image(8, 6)])
    out_dir = tmp_path / 'out'
    status, _, err = run_in_process('infer', [*car, in_dir, out_dir],
                                    monkeypatch, capsys)
    assert_user_error(status, err, 'the model takes 8x6 (WxH) inputs',
                      '2 input(s) differ', 'img0.png (8x8)',
                      'img1.png (6x8)', '--resize')
    assert not osp.exists(out_dir)
    status, _, err = run_in_process(
        'infer', [*car, in_dir, out_dir, '--resize-mode', 'crop'],
        monkeypatch, capsys)
    assert_user_error(status, err, '--resize-mode needs --resize')
    status, _, err = run_in_process(
        'infer', [*car, in_dir, out_dir, '--resize', '--resize-mode',
                  'stretch'], monkeypatch, capsys)
    assert_user_error(status, err, "invalid choice: 'stretch'")
    assert not osp.exists(out_dir)


@pytest.mark.parametrize('mode,how', [
    (None, 'resized MATLAB-like from 12x12 to 6x6 (aspect ratio kept) and '
     'padded to 8x6 (WxH) with pixel value (0, 0, 0)'),
    ('crop', "centre-cropped from 12x12 to 12x9 (the model's aspect ratio),"
     ' then resized MATLAB-like to 8x6 (WxH)'),
])
def test_infer_resize_keeps_the_aspect_ratio(car, generator, tmp_path,
                                             monkeypatch, capsys, mode, how):
    img = image(12, 12, seed=4)
    in_dir = write_images(tmp_path / 'in', [img])
    out_dir = tmp_path / 'out'
    args = [*car, in_dir, out_dir, '--resize']
    args += ['--resize-mode', mode] if mode else []
    status, out, err = run_in_process('infer', args, monkeypatch, capsys)
    assert status == 0, err
    assert f'warning: {osp.join(in_dir, "img0.png")}: {how}' in err
    assert 'resized 1 input(s)' in out
    lr = fit_input_shape(img, IN_SHAPE, True, resize_mode=mode or 'pad',
                         fill=BLACK)
    ref = super_resolve(generator, [lr])[0]
    assert max_diff(iio.imread(out_dir / 'img0.png'), ref) <= ROUNDING


# --------------------------------------------------------------- retouch

@pytest.mark.slow
def test_retouch_takes_k_times_the_input_shape(car, generator, tmp_path):
    edited = image(*OUT_SHAPE, seed=5)
    edited[10:30, 20:40] = (0, 255, 0)  # the "edit"
    folder = write_images(tmp_path, [edited], ['edited.png'])
    output = str(tmp_path / 'out' / 'retouched.png')
    proc = run_tool(RETOUCH + [*car, osp.join(folder, 'edited.png'), output,
                               '--save-lr', '--device', 'cpu'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    lr = iio.imread(str(tmp_path / 'out' / 'retouched_lr.png'))
    np.testing.assert_array_equal(lr, matlab_downsample(edited, SCALE))
    result = iio.imread(output)
    assert result.shape == OUT_SHAPE + (3, )
    assert max_diff(result, super_resolve(generator, [lr])[0]) <= ROUNDING


def test_retouch_other_shapes(car, tmp_path, monkeypatch, capsys):
    edited = image(48, 48, seed=6)
    path = osp.join(write_images(tmp_path, [edited], ['e.png']), 'e.png')
    output = tmp_path / 'r.png'
    status, _, err = run_in_process('retouch', [*car, path, output],
                                    monkeypatch, capsys)
    assert_user_error(status, err, "k times the model's input shape 8x6 "
                      '(WxH)', 'got 48x48', '--resize')
    assert not osp.exists(output)
    status, _, err = run_in_process(
        'retouch', [*car, path, output, '--resize', '--resize-mode', 'crop',
                    '--save-lr'], monkeypatch, capsys)
    assert status == 0, err
    assert 'centre-cropped from 48x48 to 48x36' in err
    np.testing.assert_array_equal(iio.imread(tmp_path / 'r_lr.png'),
                                  matlab_resize(edited[6:42], IN_SHAPE))
    assert iio.imread(output).shape == OUT_SHAPE + (3, )


# ------------------------------------------------------------- benchmark

@pytest.mark.slow
def test_benchmark_runs_the_rectangular_model(car, generator,
                                              tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    gts = [matlab_resize(image(3, 4, seed=s), OUT_SHAPE) for s in range(2)]
    write_images(root / 'GT', gts)
    write_images(root / f'BIx{SCALE}_down',
                 [matlab_downsample(gt, SCALE) for gt in gts])
    out_dir = str(tmp_path_factory.mktemp('bench') / 'out')
    proc = run_tool(BENCHMARK + [
        '--configs', 'bicubic', car[0], '--checkpoints', car[1],
        '--data', str(root), '--out-dir', out_dir, '--device', 'cpu',
        '--warmup', '0', '--repeats', '1', '--threads', '1',
        '--grid-crop', '32'],
        env=dict(TORCH_HOME=str(tmp_path_factory.mktemp('torch_home'))))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'warning: skipped' not in proc.stderr
    with open(osp.join(out_dir, 'benchmark.json')) as f:
        report = json.load(f)
    assert report['data']['gt_sizes'] == ['64x48']
    rows = {m['name']: m for m in report['models']}
    assert list(rows) == ['bicubic', 'tiny_car']
    model = rows['tiny_car']
    assert model['status'] == 'ok', model['reason']
    assert model['scale'] == SCALE and model['params'] > 0
    lrs = [matlab_downsample(gt, SCALE) for gt in gts]
    quality = ImageQuality()
    psnrs = [quality(out, gt)['psnr']
             for out, gt in zip(super_resolve(generator, lrs), gts)]
    assert model['psnr'] == pytest.approx(np.mean(psnrs))
    grid = iio.imread(osp.join(out_dir, 'benchmark_grid.png'))
    # 2 rows of 32x32 crops: LR | bicubic | car | GT
    assert grid.shape == (2 * 32, 4 * 32, 3)
