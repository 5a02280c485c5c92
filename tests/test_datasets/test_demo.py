"""The demo data set built from the LFW faces scikit-image ships."""
import os
import os.path as osp

import imageio.v3 as iio
import numpy as np
import pytest

from glean_plugin.datasets import (NUM_FACES, build_demo_dataset,
                                   matlab_downsample, matlab_resize)


def read_names(root, split):
    with open(osp.join(root, split, 'meta_info_GT.txt')) as f:
        return f.read().split()


def test_layout_sizes_and_held_out_split(tmp_path):
    root = str(tmp_path / 'demo')
    counts = build_demo_dataset(root, gt_size=32, scales=(4, 8),
                                train_faces=3, val_faces=2, train_crops=2)
    assert counts == {'train': 6, 'val': 2}
    for split, n in counts.items():
        names = read_names(root, split)
        assert len(names) == n
        for name in names:
            gt = iio.imread(osp.join(root, split, 'GT', name))
            assert gt.shape == (32, 32, 3)
            for s in (4, 8):
                lr = iio.imread(osp.join(root, split, f'BIx{s}_down', name))
                np.testing.assert_array_equal(lr, matlab_downsample(gt, s))
    train_faces = {n.split('_')[0] for n in read_names(root, 'train')}
    val_faces = {n.split('_')[0] for n in read_names(root, 'val')}
    assert train_faces == {'face000', 'face001', 'face002'}
    assert val_faces == {f'face{NUM_FACES - 2:03d}',
                         f'face{NUM_FACES - 1:03d}'}


def test_images_are_the_resized_faces(tmp_path):
    """Held-out GT is the MATLAB-like resize of the LFW face, grey in RGB;
    extra training crops differ from the centred one (jitter)."""
    import skimage.data
    root = str(tmp_path / 'demo')
    build_demo_dataset(root, gt_size=32, scales=(4, ), train_faces=1,
                       val_faces=1, train_crops=3)
    face = skimage.data.lfw_subset()[NUM_FACES - 1]
    grey = np.repeat(np.clip(np.round(face * 255), 0, 255).astype(
        np.uint8)[..., None], 3, axis=2)
    gt = iio.imread(osp.join(root, 'val', 'GT',
                             f'face{NUM_FACES - 1:03d}_0.png'))
    np.testing.assert_array_equal(gt, matlab_resize(grey, (32, 32)))
    crops = [iio.imread(osp.join(root, 'train', 'GT', f'face000_{k}.png'))
             for k in range(3)]
    assert not np.array_equal(crops[0], crops[1])
    assert not np.array_equal(crops[0], crops[2])


def test_refuses_to_overwrite_and_bad_arguments(tmp_path):
    root = tmp_path / 'demo'
    root.mkdir()
    (root / 'keep.txt').write_text('precious')
    with pytest.raises(FileExistsError, match='overwrite'):
        build_demo_dataset(str(root), train_faces=1, val_faces=1)
    assert (root / 'keep.txt').read_text() == 'precious'
    with pytest.raises(ValueError, match='not divisible'):
        build_demo_dataset(str(tmp_path / 'x'), gt_size=30, scales=(4, ))
    with pytest.raises(ValueError, match=r'<= 100 .* got 90 \+ 20'):
        build_demo_dataset(str(tmp_path / 'x'), train_faces=90, val_faces=20)
    with pytest.raises(ValueError, match='must be >= 1, got 1, 0, 8'):
        build_demo_dataset(str(tmp_path / 'x'), train_faces=1, val_faces=0)
    assert not os.path.exists(tmp_path / 'x')
