"""MATLAB-like bicubic LR preparation."""
import math
import os.path as osp

import cv2
import imageio.v3 as iio
import numpy as np
import pytest

from glean_plugin.datasets import matlab_downsample, prepare_sr_folders


def _cubic(x):
    """Keys' cubic kernel with a = -0.5, as MATLAB's imresize."""
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x < 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def _imresize_1d(signal, scale):
    """Independent MATLAB imresize (bicubic, antialiasing) downsampling of
    one axis by the integer ``scale``: kernel stretched by ``scale``,
    symmetric borders."""
    n = len(signal)
    out = []
    for i in range(n // scale):
        centre = (i + 0.5) * scale - 0.5
        lo, hi = math.floor(centre - 2 * scale), math.ceil(centre + 2 * scale)
        idx = np.arange(lo, hi + 1)
        w = np.array([_cubic((centre - j) / scale) / scale for j in idx])
        w /= w.sum()
        mirrored = np.where(idx < 0, -idx - 1, idx)
        mirrored = np.where(mirrored >= n, 2 * n - mirrored - 1, mirrored)
        out.append(np.tensordot(w, signal[mirrored], axes=1))
    return np.stack(out)


def _imresize(img, scale):
    tmp = _imresize_1d(img.astype(np.float64), scale)
    return _imresize_1d(tmp.transpose(1, 0, 2), scale).transpose(1, 0, 2)


@pytest.mark.parametrize('scale', [2, 4, 8])
def test_matches_independent_matlab_imresize(scale):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 48, 3)).astype(np.uint8)
    ours = matlab_downsample(img, scale)
    ref = np.clip(np.round(_imresize(img, scale)), 0, 255)
    assert ours.shape == (32 // scale, 48 // scale, 3)
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1
    # and it is not OpenCV's (aliased) bicubic
    cv = cv2.resize(img, (48 // scale, 32 // scale),
                    interpolation=cv2.INTER_CUBIC)
    assert np.abs(ours.astype(float) - cv).mean() > 5


def test_prepare_folders_and_refusals(tmp_path):
    gt_dir = tmp_path / 'gt'
    gt_dir.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        iio.imwrite(gt_dir / f'img{i}.png',
                    rng.integers(0, 256, (32, 32, 3)).astype(np.uint8))
    (gt_dir / 'notes.txt').write_text('not an image')
    out = str(tmp_path / 'data')
    counts = prepare_sr_folders(str(gt_dir), out, scales=(4, 8),
                                progress=False)
    assert counts == {'BIx4_down': 3, 'BIx8_down': 3, 'GT': 3}
    assert open(osp.join(out, 'meta_info_GT.txt')).read().split() == [
        'img0.png', 'img1.png', 'img2.png']
    assert iio.imread(osp.join(out, 'BIx8_down', 'img1.png')).shape == (4, 4,
                                                                        3)
    before = open(osp.join(out, 'meta_info_GT.txt')).read()
    with pytest.raises(FileExistsError, match='overwrite'):
        prepare_sr_folders(str(gt_dir), out, scales=(4, ), progress=False)
    assert open(osp.join(out, 'meta_info_GT.txt')).read() == before
    with pytest.raises(FileNotFoundError, match='GT folder not found'):
        prepare_sr_folders(str(tmp_path / 'nope'), out, progress=False)
    with pytest.raises(ValueError, match='not divisible by scale 64'):
        prepare_sr_folders(str(gt_dir), str(tmp_path / 'd2'), scales=(64, ),
                           progress=False)
