"""MATLAB-like bicubic LR preparation: the resize, the folder engine, its
refusals, resume, LMDB sources and the command line."""
import importlib.util
import io
import math
import os
import os.path as osp
import sys
from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from glean_plugin.cli import run_tool
from glean_plugin.datasets import (get_preset, matlab_downsample,
                                   matlab_resize, prepare_dataset,
                                   prepare_sr_folders)
from glean_plugin.datasets.prepare import IncompleteDatasetError
from tests.support.helpers import REPO_ROOT


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




def test_resize_is_matlab_imresize_per_axis():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (32, 48, 3)).astype(np.uint8)
    # shrinking each axis by an integer factor is the downsampling above
    assert np.array_equal(matlab_resize(img, (8, 12)),
                          matlab_downsample(img, 4))
    assert matlab_resize(img, (40, 20)).shape == (40, 20, 3)


def _smooth_image(rng, h, w):
    """Natural-looking test content: bicubic-upsampled noise."""
    small = rng.integers(0, 256, (max(h // 4, 2), max(w // 4, 2), 3))
    return cv2.resize(small.astype(np.uint8), (w, h),
                      interpolation=cv2.INTER_CUBIC)


def _write(path, img, **kwargs):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(img).save(path, **kwargs)
    return img


def _gt_folder(tmp_path, n=3, size=32, name='img{}.png'):
    gt_dir = tmp_path / 'gt'
    rng = np.random.default_rng(1)
    imgs = {
        name.format(i): _write(str(gt_dir / name.format(i)),
                               _smooth_image(rng, size, size))
        for i in range(n)
    }
    return gt_dir, imgs


def _meta(path):
    return open(path).read().splitlines()


def _read(path):
    return np.asarray(Image.open(path))


def test_prepare_folders(tmp_path):
    gt_dir, imgs = _gt_folder(tmp_path)
    (gt_dir / 'notes.txt').write_text('not an image')
    out = str(tmp_path / 'data')
    counts = prepare_sr_folders(str(gt_dir), out, scales=(4, 8),
                                progress=False)
    assert counts == {'BIx4_down': 3, 'BIx8_down': 3, 'GT': 3}
    assert _meta(osp.join(out, 'meta_info_GT.txt')) == [
        'img0.png (32,32,3)', 'img1.png (32,32,3)', 'img2.png (32,32,3)']
    for name, img in imgs.items():
        assert np.array_equal(_read(osp.join(out, 'GT', name)), img)
        for s in (4, 8):
            lr = _read(osp.join(out, f'BIx{s}_down', name))
            assert lr.shape == (32 // s, 32 // s, 3)
            assert np.array_equal(lr, matlab_downsample(img, s))
    # nothing temporary is left behind
    assert not [n for f in ('GT', 'BIx4_down') for n in
                os.listdir(osp.join(out, f)) if n.startswith('.')]


def test_lr_is_not_opencv(tmp_path):
    gt_dir, imgs = _gt_folder(tmp_path, n=1, size=64)
    out = str(tmp_path / 'data')
    prepare_sr_folders(str(gt_dir), out, scales=(8, 16), progress=False)
    gt = imgs['img0.png']
    for s in (8, 16):
        lr = _read(osp.join(out, f'BIx{s}_down', 'img0.png')).astype(float)
        for interp in (cv2.INTER_CUBIC, cv2.INTER_AREA):
            cv = cv2.resize(gt, (64 // s, 64 // s), interpolation=interp)
            assert np.abs(lr - cv).mean() > 1, (s, interp)


def test_refuses_to_overwrite(tmp_path):
    gt_dir, _ = _gt_folder(tmp_path)
    out = str(tmp_path / 'data')
    prepare_sr_folders(str(gt_dir), out, scales=(4, ), progress=False)
    meta = osp.join(out, 'meta_info_GT.txt')
    before = open(meta).read()
    with pytest.raises(FileExistsError, match='overwrite.*resume'):
        prepare_sr_folders(str(gt_dir), out, scales=(4, ), progress=False)
    assert open(meta).read() == before
    # a new LR folder alone also counts as existing output
    with pytest.raises(FileExistsError, match='GT'):
        prepare_sr_folders(str(gt_dir), out, scales=(8, ), progress=False)
    assert not osp.exists(osp.join(out, 'BIx8_down'))
    assert prepare_sr_folders(str(gt_dir), out, scales=(4, ), overwrite=True,
                              progress=False)['GT'] == 3
    preset = get_preset('folder')
    with pytest.raises(ValueError, match='not both'):
        prepare_dataset(preset, str(gt_dir), out, overwrite=True,
                        resume=True)


def test_input_errors_write_nothing(tmp_path):
    gt_dir, _ = _gt_folder(tmp_path)
    out = tmp_path / 'out'
    with pytest.raises(FileNotFoundError, match='nope'):
        prepare_sr_folders(str(tmp_path / 'nope'), str(out), progress=False)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='no images'):
        prepare_sr_folders(str(empty), str(out), progress=False)
    preset = get_preset('folder')
    with pytest.raises(ValueError, match='no default data root'):
        prepare_dataset(preset, str(gt_dir))
    with pytest.raises(FileNotFoundError, match='list file not found'):
        prepare_dataset(preset, str(gt_dir), str(out), list_file='nope.txt')
    listed = tmp_path / 'list.txt'
    listed.write_text('img1.png (32,32,3)\nimg7.png (32,32,3)\n')
    with pytest.raises(ValueError, match='1 of the 2 images.*img7'):
        prepare_dataset(preset, str(gt_dir), str(out), list_file=str(listed))
    with pytest.raises(ValueError, match='not divisible by scale 64'):
        replace(preset, size=32, scales=(64, ))
    with pytest.raises(ValueError, match='fit must be one of'):
        replace(preset, fit='stretch')
    with pytest.raises(ValueError, match='num_workers'):
        prepare_dataset(preset, str(gt_dir), str(out), num_workers=0)
    assert not out.exists()


def test_list_selects_and_orders(tmp_path):
    gt_dir, _ = _gt_folder(tmp_path, n=4)
    listed = tmp_path / 'list.txt'
    # MMagic meta-info lines, or bare names with another extension
    listed.write_text('img3.png (32,32,3)\n\nsub/img1.jpg\n')
    out = str(tmp_path / 'data')
    counts = prepare_dataset(get_preset('folder'), str(gt_dir), out,
                             list_file=str(listed), progress=False)
    assert counts['GT'] == 2
    assert _meta(osp.join(out, 'meta_info_GT.txt')) == [
        'img3.png (32,32,3)', 'img1.png (32,32,3)']


def test_wrong_size_and_broken_image_then_resume(tmp_path):
    gt_dir, imgs = _gt_folder(tmp_path, n=3, size=32)
    bad = gt_dir / 'img3.png'
    bad.write_bytes(b'not a png at all')
    preset = replace(get_preset('folder'), size=32, scales=(4, ))
    out = tmp_path / 'data'
    with pytest.raises(IncompleteDatasetError) as info:
        prepare_dataset(preset, str(gt_dir), str(out), progress=False)
    message = str(info.value)
    assert 'cannot read image' in message and str(bad) in message
    assert '1 of 4 images' in message and 'other 3 were written' in message
    assert '--resume' in message
    assert list(info.value.failed) == [str(bad)] and info.value.done == 3
    # the other images are complete, no meta-info file claims the set is done
    assert sorted(os.listdir(out / 'GT')) == sorted(imgs)
    assert not (out / 'meta_info_GT.txt').exists()

    # the bad file is replaced by one of the wrong size: refused by name
    _write(str(bad), np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(IncompleteDatasetError,
                       match=r'img3.png.*expected 32x32.*got 32x24'):
        prepare_dataset(preset, str(gt_dir), str(out), resume=True,
                        progress=False)
    assert not (out / 'meta_info_GT.txt').exists()

    # fixed: --resume writes the rest and keeps what was done
    _write(str(bad), np.full((32, 32, 3), 7, np.uint8))
    done = out / 'GT' / 'img0.png'
    stamp = os.stat(done).st_mtime_ns
    (out / 'GT' / '.img3.png.tmp').write_bytes(b'stale')
    prepare_dataset(preset, str(gt_dir), str(out), resume=True,
                    progress=False)
    assert os.stat(done).st_mtime_ns == stamp
    assert sorted(os.listdir(out / 'GT')) == sorted(list(imgs) +
                                                    ['img3.png'])
    assert _meta(out / 'meta_info_GT.txt')[-1] == 'img3.png (32,32,3)'
    assert np.array_equal(_read(out / 'BIx4_down' / 'img3.png'),
                          np.full((8, 8, 3), 7, np.uint8))


def test_not_divisible_size_is_refused(tmp_path):
    gt_dir, _ = _gt_folder(tmp_path, size=40)
    with pytest.raises(ValueError, match='size 40x40 is not divisible by '
                       'scale 16'):
        prepare_sr_folders(str(gt_dir), str(tmp_path / 'd'), scales=(16, ),
                           progress=False)


def test_duplicate_names_are_refused(tmp_path):
    gt_dir, _ = _gt_folder(tmp_path, n=1)
    _write(str(gt_dir / 'sub' / 'img0.jpg'), np.zeros((32, 32, 3), np.uint8))
    preset = replace(get_preset('folder'), recursive=True)
    with pytest.raises(ValueError, match=r'img0.png.*img0.png.*img0.jpg'):
        prepare_dataset(preset, str(gt_dir), str(tmp_path / 'd'))


def test_gt_left_in_place(tmp_path):
    # MMagic's FFHQ layout: data/ffhq/images is both source and GT prefix
    root = tmp_path / 'ffhq'
    rng = np.random.default_rng(3)
    for i in range(2):
        _write(str(root / 'images' / f'{i:05d}.png'),
               _smooth_image(rng, 64, 64))
    stamps = {n: os.stat(root / 'images' / n).st_mtime_ns
              for n in os.listdir(root / 'images')}
    preset = replace(get_preset('ffhq'), size=64, scales=(16, ))
    counts = prepare_dataset(preset, str(root / 'images'), str(root),
                             progress=False)
    assert counts == {'BIx16_down': 2}
    assert stamps == {n: os.stat(root / 'images' / n).st_mtime_ns
                      for n in os.listdir(root / 'images')}
    assert _meta(root / 'meta_info_FFHQ_GT.txt') == [
        '00000.png (64,64,3)', '00001.png (64,64,3)']
    # a GT in sub-folders cannot be left where the configs do not look
    _write(str(root / 'images' / '01000' / '01000.png'),
           np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match='directly in it.*01000.png'):
        prepare_dataset(preset, str(root / 'images'), str(root),
                        overwrite=True, progress=False)
    gt_dir, _ = _gt_folder(tmp_path, n=1)
    _write(str(gt_dir / 'x.jpg'), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match='must be a PNG'):
        prepare_sr_folders(str(gt_dir), str(tmp_path / 'd'), gt_folder=None,
                           progress=False)


def test_gt_link_and_copy_keep_bytes(tmp_path):
    src = tmp_path / 'src'
    rng = np.random.default_rng(4)
    _write(str(src / '00000' / '00000.png'), _smooth_image(rng, 64, 64))
    preset = replace(get_preset('ffhq'), size=64, scales=(16, ))
    for link in (False, True):
        out = tmp_path / f'out{link}'
        prepare_dataset(preset, str(src), str(out), link=link,
                        progress=False)
        gt, source = out / 'images' / '00000.png', src / '00000' / '00000.png'
        assert gt.read_bytes() == source.read_bytes()
        assert os.path.samefile(gt, source) == link


def test_workers_give_the_same_output(tmp_path):
    gt_dir, _ = _gt_folder(tmp_path, n=5)
    files = {}
    for workers in (1, 2):
        out = tmp_path / f'w{workers}'
        prepare_dataset(replace(get_preset('folder'), scales=(4, 8)),
                        str(gt_dir), str(out), num_workers=workers,
                        progress=False)
        files[workers] = {
            osp.relpath(osp.join(d, n), out): open(osp.join(d, n), 'rb').read()
            for d, _, names in os.walk(out) for n in names
        }
    assert files[1] == files[2] and len(files[1]) == 16


def _lmdb(path, images, fmt):
    lmdb = pytest.importorskip('lmdb')
    env = lmdb.open(str(path), map_size=1 << 24)
    encoded = {}
    with env.begin(write=True) as txn:
        for key, img in images.items():
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format=fmt)
            encoded[key] = buf.getvalue()
            txn.put(key.encode('ascii'), encoded[key])
    env.close()
    return encoded


def _decoded(data):
    return np.asarray(Image.open(io.BytesIO(data))
                      .convert('RGB'))


def test_lsun_lmdb_source(tmp_path):
    rng = np.random.default_rng(5)
    keys = ['017217f0d9', '0a0b0c0d0e', '00ff00ff00']
    images = {k: _smooth_image(rng, 48, 64) for k in keys}
    encoded = _lmdb(tmp_path / 'cat', images, 'WEBP')
    preset = replace(get_preset('cat'), size=32)
    out = tmp_path / 'cat_train'
    listed = tmp_path / 'meta_info_LSUNcat_GT.txt'
    listed.write_text('0a0b0c0d0e.png (256,256,3)\n017217f0d9.png '
                      '(256,256,3)\n')
    prepare_dataset(preset, str(tmp_path / 'cat'), str(out),
                    list_file=str(listed), progress=False)
    assert _meta(out / 'meta_info_LSUNcat_GT.txt') == [
        '0a0b0c0d0e.png (32,32,3)', '017217f0d9.png (32,32,3)']
    gt = _read(out / 'GT' / '0a0b0c0d0e.png')
    assert np.array_equal(gt, matlab_resize(_decoded(encoded['0a0b0c0d0e']),
                                            (32, 32)))
    assert np.array_equal(_read(out / 'BIx16_down' / '0a0b0c0d0e.png'),
                          matlab_downsample(gt, 16))
    # no list: every key, in the database's order; data.mdb itself works
    prepare_dataset(preset, str(tmp_path / 'cat' / 'data.mdb'), str(out),
                    overwrite=True, progress=False)
    meta = _meta(out / 'meta_info_LSUNcat_GT.txt')
    names = [line.split()[0] for line in meta]
    assert names == [f'{k}.png' for k in sorted(keys)]
    listed.write_text('deadbeef.png\n')
    with pytest.raises(ValueError, match='deadbeef'):
        prepare_dataset(preset, str(tmp_path / 'cat'), str(out),
                        list_file=str(listed), overwrite=True)


def test_missing_lmdb_says_how_to_install(tmp_path, monkeypatch):
    db = tmp_path / 'church_outdoor_train_lmdb'
    db.mkdir()
    (db / 'data.mdb').write_bytes(b'')
    monkeypatch.setitem(sys.modules, 'lmdb', None)
    with pytest.raises(ImportError, match='pip install lmdb'):
        prepare_dataset(get_preset('church'), str(db), str(tmp_path / 'o'))
    assert not (tmp_path / 'o').exists()


def _cli():
    """tools/prepare_data.py's main as the command line runs it: argv ->
    exit status (through the tools' error wrapper)."""
    path = osp.join(REPO_ROOT, 'tools', 'prepare_data.py')
    spec = importlib.util.spec_from_file_location('prepare_data_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda argv: run_tool(lambda: module.main(argv))


def test_command_line(tmp_path, capsys):
    main = _cli()
    gt_dir, _ = _gt_folder(tmp_path, n=2)
    out = str(tmp_path / 'data')
    # the old form: GT_DIR OUT_ROOT [options] means 'folder'
    assert main([str(gt_dir), out, '--scales', '4', '8', '--meta-file',
                 'm.txt']) == 0
    assert _meta(osp.join(out, 'm.txt'))[0] == 'img0.png (32,32,3)'
    assert main(['folder', str(gt_dir), out, '--scales', '4']) == 2
    assert '--overwrite' in capsys.readouterr().err
    assert main(['folder', str(gt_dir), out, '--scales', '16',
                 '--overwrite', '--gt-folder', '', '--meta-file',
                 'm.txt']) == 0
    assert sorted(os.listdir(out)) == ['BIx16_down', 'BIx4_down',
                                       'BIx8_down', 'GT', 'm.txt']
    # a preset, with the sizes a test can afford
    faces = tmp_path / 'faces'
    for i in range(3):
        _write(str(faces / f'{i + 1:05d}.png'), np.zeros((64, 64, 3),
                                                         np.uint8))
    assert main(['celebahq', str(faces), str(tmp_path / 'CelebA-HQ'),
                 '--size', '64', '--limit', '2', '--num-workers', '2']) == 0
    assert _meta(tmp_path / 'CelebA-HQ' /
                 'meta_info_CelebAHQ_val100_GT.txt') == [
                     '00001.png (64,64,3)', '00002.png (64,64,3)']
    assert sorted(os.listdir(tmp_path / 'CelebA-HQ')) == [
        'BIx16_down', 'BIx64_down', 'GT', 'meta_info_CelebAHQ_val100_GT.txt']
    assert main(['celebahq', str(faces), str(tmp_path / 'c2')]) == 2
    assert 'first 100 images' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['cat', str(faces), '--split', 'val'])
