"""Each data set preset: its constants are the configs', and it builds the
configs' layout from a small synthetic source of that data set's shape."""
import glob
import os
import os.path as osp
from dataclasses import replace

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from glean_plugin.datasets import (PRESETS, DatasetPreset, get_preset,
                                   matlab_downsample, matlab_resize,
                                   prepare_dataset)
from tests.support.helpers import REPO_ROOT

# Which presets a config's train and val loaders read.
CONFIG_PRESETS = {
    'cat': ('cat/train', 'cat/test'),
    'car': ('car/train', 'car/test'),
    'church': ('church/train', 'church/test'),
    'ffhq': ('ffhq/train', 'celebahq/test'),
    'celebahq': ('ffhq/train', 'celebahq/test'),
}
LEAVES = sorted(
    c for c in glob.glob(osp.join(REPO_ROOT, 'configs', 'glean_*.py'))
    if not osp.basename(c).startswith('glean_demo'))
# Blind (real-world) configs degrade their GT on the fly: they train on a GT
# folder only (the 'folder' preset's layout at this root) and validate on a
# preset's pairs at their own scale (tools/prepare_data.py celebahq SRC
# --scales 8).
BLIND_MARK = '-blind'
BLIND_TRAIN_ROOT = 'data/FFHQ_CelebAHQ'


def _preset(name):
    return get_preset(*name.split('/'))


def _is_blind(path) -> bool:
    return BLIND_MARK in osp.basename(path)


def _loader_presets(path, scale):
    """(loader name, preset) of each loader that reads a preset's pairs
    (a blind config's: as ``--scales <its scale>`` makes them)."""
    dataset = osp.basename(path).split('_')[1]
    pairs = zip(('train_dataloader', 'val_dataloader'),
                (_preset(n) for n in CONFIG_PRESETS[dataset]))
    if not _is_blind(path):
        return list(pairs)
    return [(loader, replace(preset, scales=(scale, )))
            for loader, preset in pairs if loader != 'train_dataloader']


def _gt_shape(gen):
    """(height, width) of a GLEANNet config's output: its GT shape."""
    scale = gen.out_size // gen.in_size
    h, w = gen.get('in_shape', (gen.in_size, gen.in_size))
    return h * scale, w * scale


@pytest.mark.parametrize('path', LEAVES, ids=osp.basename)
def test_presets_are_the_configs_layout(path):
    cfg = Config.fromfile(path)
    gen = cfg.model.generator
    scale = gen.out_size // gen.in_size
    for loader, preset in _loader_presets(path, scale):
        dataset = cfg[loader].dataset
        assert dataset.data_root == preset.data_root
        assert dataset.ann_file == preset.meta_file
        assert dataset.data_prefix['gt'] == preset.gt_folder
        assert dataset.data_prefix['img'] == f'BIx{scale}_down'
        assert scale in preset.scales
        assert preset.shape == _gt_shape(gen)
    assert cfg.test_dataloader.dataset == cfg.val_dataloader.dataset
    if _is_blind(path):
        train, folder = cfg.train_dataloader.dataset, get_preset('folder')
        assert train.data_root == BLIND_TRAIN_ROOT
        assert train.ann_file == folder.meta_file
        assert dict(train.data_prefix) == dict(gt=folder.gt_folder)


def test_every_preset_scale_is_used_by_a_config():
    used = {}
    for path in (p for p in LEAVES if not _is_blind(p)):
        cfg = Config.fromfile(path)
        scale = cfg.model.generator.out_size // cfg.model.generator.in_size
        for _, preset in _loader_presets(path, scale):
            used.setdefault(preset.name, set()).add(scale)
    presets = [p for d, splits in PRESETS.items() if d != 'folder'
               for p in splits.values()]
    assert {p.name: set(p.scales) for p in presets} == used


def _image(rng, h, w):
    small = rng.integers(0, 256, (max(h // 4, 2), max(w // 4, 2), 3))
    return cv2.resize(small.astype(np.uint8), (w, h),
                      interpolation=cv2.INTER_CUBIC)


def _write(path, img):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(img).save(path)
    return np.asarray(Image.open(path).convert('RGB'))  # after jpeg loss


def _check(out, preset, expected):
    """``expected``: {output name: GT}; LR = MATLAB bicubic of the GT."""
    lines = open(osp.join(out, preset.meta_file)).read().splitlines()
    h, w = preset.shape
    assert lines == [f'{n} ({h},{w},3)' for n in expected]
    folders = sorted([preset.gt_folder, preset.meta_file] +
                     list(preset.lr_folders))
    assert sorted(os.listdir(out)) == folders
    for name, gt in expected.items():
        written = np.asarray(Image.open(osp.join(out, preset.gt_folder,
                                                 name)))
        assert np.array_equal(written, gt), name
        for folder, s in preset.lr_folders.items():
            lr = np.asarray(Image.open(osp.join(out, folder, name)))
            assert lr.shape == (h // s, w // s, 3)
            assert np.array_equal(lr, matlab_downsample(gt, s))


SIZE = 64  # GT side in these tests (the real presets: 256 / 1024)
CAR_H, CAR_W = 48, 64  # car GT in these tests (the real preset: 384x512)


def test_cat_train_resizes_to_square(tmp_path):
    # an exported LSUN folder: nested, webp, short side 'SIZE', any width
    rng = np.random.default_rng(0)
    src = tmp_path / 'cat'
    a = _write(str(src / '0' / '1' / '0172aa.webp'), _image(rng, SIZE, 80))
    b = _write(str(src / '0' / '2' / '0172bb.webp'), _image(rng, 48, SIZE))
    c = _write(str(src / '0172cc.png'), _image(rng, SIZE, SIZE))
    preset = replace(get_preset('cat'), size=SIZE)
    out = str(tmp_path / 'cat_train')
    prepare_dataset(preset, str(src), out, progress=False)
    _check(out, preset, {
        '0172aa.png': matlab_resize(a, (SIZE, SIZE)),
        '0172bb.png': matlab_resize(b, (SIZE, SIZE)),
        '0172cc.png': c,
    })


def test_cat_center_crop(tmp_path):
    rng = np.random.default_rng(1)
    src = tmp_path / 'cat'
    a = _write(str(src / 'wide.png'), _image(rng, SIZE, 90))
    b = _write(str(src / 'tall.png'), _image(rng, 96, 72))
    preset = replace(get_preset('cat'), size=SIZE, fit='center-crop')
    out = str(tmp_path / 'cat_train')
    prepare_dataset(preset, str(src), out, progress=False)
    _check(out, preset, {
        'tall.png': matlab_resize(b[12:84], (SIZE, SIZE)),
        'wide.png': a[:, 13:77],
    })


def test_cat100_needs_its_list(tmp_path):
    # CAT_DATASET_02.zip: CAT_03/*.jpg beside *.jpg.cat annotations
    rng = np.random.default_rng(2)
    src = tmp_path / 'CAT_03'
    imgs = {
        n: _write(str(src / f'{n}.jpg'), _image(rng, 75, 100))
        for n in ('00000800_007', '00000800_016', '00000900_001')
    }
    (src / '00000800_007.jpg.cat').write_text('9 1 2 3 4 5 6 7 8 9 10')
    preset = replace(get_preset('cat', 'test'), size=SIZE)
    out = str(tmp_path / 'cat_test')
    with pytest.raises(ValueError, match='list.*CAT dataset'):
        prepare_dataset(preset, str(src), out)
    listed = tmp_path / 'meta_info_Cat100_GT.txt'
    listed.write_text('00000800_007.png (256,256,3)\n'
                      '00000800_016.png (256,256,3)\n')
    prepare_dataset(preset, str(src), out, list_file=str(listed),
                    progress=False)
    _check(out, preset, {
        f'{n}.png': matlab_resize(imgs[n], (SIZE, SIZE))
        for n in ('00000800_007', '00000800_016')
    })


@pytest.mark.parametrize('split', ['train', 'test'])
def test_church_from_lmdb(tmp_path, split):
    lmdb = pytest.importorskip('lmdb')
    rng = np.random.default_rng(3)
    db = tmp_path / f'church_outdoor_{split}_lmdb'
    env = lmdb.open(str(db), map_size=1 << 24)
    expected = {}
    with env.begin(write=True) as txn:
        for key, (h, w) in {'b1': (SIZE, 85), 'a0': (SIZE, SIZE)}.items():
            jpeg = tmp_path / f'{key}.jpg'
            img = _write(str(jpeg), _image(rng, h, w))
            txn.put(key.encode(), jpeg.read_bytes())
            expected[f'{key}.png'] = (img if w == SIZE else
                                      matlab_resize(img, (SIZE, SIZE)))
    env.close()
    preset = replace(get_preset('church', split), size=SIZE)
    out = str(tmp_path / 'church')
    prepare_dataset(preset, str(db), out, progress=False)
    _check(out, preset, dict(sorted(expected.items())))


def test_ffhq_flattens_subfolders_and_refuses_other_sizes(tmp_path):
    rng = np.random.default_rng(4)
    src = tmp_path / 'images1024x1024'
    imgs = {
        f'{i:05d}.png': _write(str(src / f'{i // 1000 * 1000:05d}' /
                                   f'{i:05d}.png'), _image(rng, SIZE, SIZE))
        for i in (0, 1, 1000)
    }
    (src / 'LICENSE.txt').write_text('CC BY-NC-SA 4.0')
    preset = replace(get_preset('ffhq'), size=SIZE)
    out = str(tmp_path / 'ffhq')
    prepare_dataset(preset, str(src), out, progress=False)
    _check(out, preset, imgs)
    _write(str(src / '02000' / '02000.png'), _image(rng, SIZE, SIZE - 16))
    with pytest.raises(ValueError, match=r"02000.png'?: expected 64x64 "
                       r'\(width x height\), got 48x64'):
        prepare_dataset(preset, str(src), out, overwrite=True,
                        progress=False)


def test_celebahq_takes_the_first_images_in_natural_order(tmp_path):
    # CelebAMask-HQ names its images 0.jpg .. 29999.jpg
    rng = np.random.default_rng(5)
    src = tmp_path / 'CelebA-HQ-img'
    imgs = {
        i: _write(str(src / f'{i}.jpg'), _image(rng, SIZE, SIZE))
        for i in (0, 1, 2, 10, 11)
    }
    preset = replace(get_preset('celebahq'), size=SIZE, limit=3)
    out = str(tmp_path / 'CelebA-HQ')
    prepare_dataset(preset, str(src), out, progress=False)
    _check(out, preset, {f'{i}.png': imgs[i] for i in (0, 1, 2)})
    with pytest.raises(ValueError, match='first 6 images.*has 5'):
        prepare_dataset(replace(preset, limit=6), str(src), out,
                        overwrite=True)


def test_car_resizes_to_its_rectangle(tmp_path):
    # LSUN car images are of any aspect ratio; the GT is height x width
    rng = np.random.default_rng(6)
    shape = (CAR_H, CAR_W)
    src = tmp_path / 'car'
    a = _write(str(src / '0a' / 'c1.webp'), _image(rng, 60, 100))
    b = _write(str(src / 'c2.png'), _image(rng, CAR_H, CAR_W))
    preset = replace(get_preset('car'), size=shape)
    out = str(tmp_path / 'car_train')
    prepare_dataset(preset, str(src), out, progress=False)
    _check(out, preset, {'c1.png': matlab_resize(a, shape), 'c2.png': b})
    # x8 and x16 LR: 6x8 and 3x4, the tiny analogue of 48x64 and 24x32
    lr = np.asarray(Image.open(osp.join(out, 'BIx8_down', 'c1.png')))
    assert lr.shape == (CAR_H // 8, CAR_W // 8, 3)


def test_car_center_crop_keeps_the_aspect_ratio(tmp_path):
    rng = np.random.default_rng(7)
    src = tmp_path / 'car'
    wide = _write(str(src / 'wide.png'), _image(rng, 48, 80))
    square = _write(str(src / 'square.png'), _image(rng, 72, 72))
    preset = replace(get_preset('car', 'test'), size=(CAR_H, CAR_W),
                     fit='center-crop', limit=None)
    out = str(tmp_path / 'car_test')
    prepare_dataset(preset, str(src), out, progress=False)
    _check(out, preset, {
        # 72x72: the 54x72 window (3:4) at rows 9..63, resized to 48x64
        'square.png': matlab_resize(square[9:63], (CAR_H, CAR_W)),
        # 48x80: the 48x64 window at columns 8..72, already the GT shape
        'wide.png': wide[:, 8:72],
    })


def test_car_test_takes_the_first_100():
    preset = get_preset('car', 'test')
    assert preset.limit == 100 and not preset.list_required
    assert preset.data_root == 'data/car_test'


@pytest.mark.parametrize('size', [(384, ), (384, 512, 3), [384, 512],
                                  (384, 0), (384.0, 512), 0, True])
def test_bad_preset_size_is_refused(size):
    with pytest.raises(ValueError, match='size must be a positive int or a '
                       r'\(height, width\) tuple, got'):
        DatasetPreset('x', None, 'GT', 'meta.txt', (8, ), size)


def test_rectangular_size_must_be_divisible():
    with pytest.raises(ValueError, match=r'size \(384, 520\) is not '
                       'divisible by scale 16'):
        DatasetPreset('x', None, 'GT', 'meta.txt', (8, 16), (384, 520))


def test_real_preset_values():
    assert get_preset('car').shape == get_preset('car', 'test').shape == (
        384, 512)
    assert get_preset('car').size == (384, 512)
    assert get_preset('cat').shape == (256, 256)
    assert get_preset('cat').size == get_preset('church').size == 256
    assert get_preset('ffhq').size == get_preset('celebahq').size == 1024
    assert get_preset('celebahq').limit == 100
    assert get_preset('cat', 'test').list_required
    assert get_preset('cat').fit == 'resize'
    assert get_preset('ffhq').fit == get_preset('celebahq').fit == 'exact'
    with pytest.raises(ValueError, match='unknown data set'):
        get_preset('cars')
    with pytest.raises(ValueError, match='splits'):
        get_preset('ffhq', 'test')
