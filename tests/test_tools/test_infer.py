"""tools/infer.py and tools/retouch.py (tiny untrained GLEAN).

A few cases run the tools as subprocesses (exit status, no traceback); the
other paths call their ``main`` in this process, which is much faster.
"""
import os
import os.path as osp

import imageio.v3 as iio
import numpy as np
import pytest

from glean_plugin.apis import init_generator, super_resolve
from glean_plugin.datasets import matlab_downsample
from glean_plugin.models import GLEANNet
from tests.support.helpers import run_tool
from tests.support.tiny_glean import (CONFIG, IN_SIZE, OUT_SIZE, SCALE,
                                      random_images, save_checkpoint)
from tests.test_tools.tool_runner import (INFER, RETOUCH, assert_user_error,
                                          run_in_process, write_images)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'model.pth')


@pytest.mark.slow
def test_infer_folder_in_batches(tmp_path, checkpoint):
    images = random_images(3, seed=10)
    in_dir = write_images(tmp_path / 'in', images)
    (tmp_path / 'in' / 'notes.txt').write_text('not an image')
    out_dir = str(tmp_path / 'out')
    proc = run_tool(INFER + [CONFIG, checkpoint, in_dir, out_dir,
                             '--batch-size', '2', '--device', 'cpu'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'warning: skipped' in proc.stderr and 'notes.txt' in proc.stderr
    assert 'wrote 3 image(s)' in proc.stdout
    assert 'skipped 1 non-image entry' in proc.stdout
    generator = init_generator(CONFIG, checkpoint, 'cpu')
    for i, ref in enumerate(super_resolve(generator, images)):
        out = iio.imread(osp.join(out_dir, f'img{i}.png'))
        assert out.shape == (OUT_SIZE, OUT_SIZE, 3)
        assert np.abs(out.astype(int) - ref).max() <= 1


@pytest.mark.slow
def test_wrong_size_is_a_clear_error(tmp_path, checkpoint):
    image = osp.join(write_images(tmp_path, random_images(1, size=16)),
                     'img0.png')
    out_dir = str(tmp_path / 'out')
    proc = run_tool(INFER + [CONFIG, checkpoint, image, out_dir])
    assert_user_error(proc.returncode, proc.stderr, 'takes 8x8 (WxH)',
                      'img0.png (16x16)', '--resize')
    assert not osp.exists(out_dir)


@pytest.mark.slow
def test_retouch_writes_output_and_lr(tmp_path, checkpoint):
    edited = random_images(1, size=OUT_SIZE, seed=11)[0]
    edited[10:30, 30:50] = (0, 255, 0)  # the "edit"
    folder = write_images(tmp_path, [edited], ['edited.png'])
    output = str(tmp_path / 'out' / 'retouched.png')
    proc = run_tool(RETOUCH + [CONFIG, checkpoint,
                               osp.join(folder, 'edited.png'), output,
                               '--save-lr', '--device', 'cpu'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert iio.imread(output).shape == (OUT_SIZE, OUT_SIZE, 3)
    lr = iio.imread(str(tmp_path / 'out' / 'retouched_lr.png'))
    assert lr.shape == (IN_SIZE, IN_SIZE, 3)
    np.testing.assert_array_equal(lr, matlab_downsample(edited, SCALE))


def test_resize_overwrite_and_inputs(tmp_path, checkpoint, monkeypatch,
                                     capsys):
    in_dir = write_images(tmp_path / 'in', random_images(2, size=16, width=12))
    out_dir = tmp_path / 'out'
    status, out, err = run_in_process(
        'infer', [CONFIG, checkpoint, in_dir, out_dir, '--resize',
                  '--batch-size', 2], monkeypatch, capsys)
    assert status == 0, err
    assert err.count('warning: ') == 2
    assert ('img1.png: resized MATLAB-like from 12x16 to 6x8 (aspect ratio '
            'kept) and padded to 8x8 (WxH) with pixel value (0, 0, 0)') in err
    assert 'resized 2 input(s)' in out
    assert sorted(os.listdir(out_dir)) == ['img0.png', 'img1.png']

    args = [CONFIG, checkpoint, in_dir, out_dir, '--resize']
    status, _, err = run_in_process('infer', args, monkeypatch, capsys)
    assert_user_error(status, err, '2 output(s) exist', '--overwrite')
    status, _, err = run_in_process('infer', args + ['--overwrite'],
                                    monkeypatch, capsys)
    assert status == 0, err
    status, _, err = run_in_process(
        'infer', [CONFIG, checkpoint, in_dir, in_dir, '--overwrite'],
        monkeypatch, capsys)
    assert_user_error(status, err, 'would overwrite the input')
    status, _, err = run_in_process(
        'infer', [CONFIG, checkpoint, in_dir, out_dir, '--batch-size', 0],
        monkeypatch, capsys)
    assert status == 2 and '--batch-size must be >= 1, got 0' in err


def test_broken_image_and_mismatched_checkpoint(tmp_path, checkpoint,
                                                monkeypatch, capsys):
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    status, _, err = run_in_process(
        'infer', [CONFIG, checkpoint, broken, tmp_path / 'out'],
        monkeypatch, capsys)
    assert_user_error(status, err, 'cannot read', 'broken.png')

    other = GLEANNet(in_size=16, out_size=OUT_SIZE, style_channels=32,
                     max_channels=32, num_mlps=2, rrdb_channels=32,
                     num_rrdbs=2)
    wrong = save_checkpoint(tmp_path / 'x4.pth', {
        f'generator.{k}': v for k, v in other.state_dict().items()})
    image = write_images(tmp_path / 'in', random_images(1))
    status, _, err = run_in_process(
        'infer', [CONFIG, wrong, image, tmp_path / 'out'], monkeypatch,
        capsys)
    assert_user_error(status, err, 'does not match the generator', 'missing',
                      f'in_size=16, out_size={OUT_SIZE}')
    status, _, err = run_in_process(
        'infer', [CONFIG, tmp_path / 'none.pth', image, tmp_path / 'out'],
        monkeypatch, capsys)
    assert_user_error(status, err, 'checkpoint not found')


def test_retouch_refuses_other_sizes_unless_resize(tmp_path, checkpoint,
                                                   monkeypatch, capsys):
    folder = write_images(tmp_path, random_images(1, size=60), ['e.png'])
    edited, output = osp.join(folder, 'e.png'), tmp_path / 'r.png'
    status, _, err = run_in_process(
        'retouch', [CONFIG, checkpoint, edited, output], monkeypatch, capsys)
    assert_user_error(status, err, "k times the model's input shape 8x8 (WxH)",
                      'got 60x60', '--resize')
    status, out, err = run_in_process(
        'retouch', [CONFIG, checkpoint, edited, output, '--resize'],
        monkeypatch, capsys)
    assert status == 0, err
    assert 'warning: ' in err and 'from 60x60 to 8x8' in err
    assert iio.imread(output).shape == (OUT_SIZE, OUT_SIZE, 3)
    status, _, err = run_in_process(
        'retouch', [CONFIG, checkpoint, edited, edited, '--overwrite'],
        monkeypatch, capsys)
    assert_user_error(status, err, 'would overwrite the input')
