"""The demo data set built from scikit-image's photographs."""
import os
import os.path as osp

import imageio.v3 as iio
import pytest

from glean_plugin.datasets import (DEMO_TRAIN_IMAGES, DEMO_VAL_IMAGES,
                                   build_demo_dataset)


def test_layout_sizes_and_held_out_split(tmp_path):
    root = str(tmp_path / 'demo')
    counts = build_demo_dataset(root, gt_size=32, scales=(4, 8),
                                train_crops=1, val_crops=2)
    assert counts == {'train': len(DEMO_TRAIN_IMAGES),
                      'val': 2 * len(DEMO_VAL_IMAGES)}
    assert not set(DEMO_TRAIN_IMAGES) & set(DEMO_VAL_IMAGES)
    for split, n in counts.items():
        names = open(osp.join(root, split, 'meta_info_GT.txt')).read().split()
        assert len(names) == n
        for name in names:
            assert iio.imread(osp.join(root, split, 'GT', name)).shape == (
                32, 32, 3)
            assert iio.imread(osp.join(root, split, 'BIx4_down',
                                       name)).shape == (8, 8, 3)
            assert iio.imread(osp.join(root, split, 'BIx8_down',
                                       name)).shape == (4, 4, 3)
    val_names = open(osp.join(root, 'val', 'meta_info_GT.txt')).read()
    assert all(n.split('_')[0] in ('chelsea', 'coffee')
               for n in val_names.split())


def test_refuses_to_overwrite_and_bad_scale(tmp_path):
    root = tmp_path / 'demo'
    root.mkdir()
    (root / 'keep.txt').write_text('precious')
    with pytest.raises(FileExistsError, match='overwrite'):
        build_demo_dataset(str(root), train_crops=1, val_crops=1)
    assert (root / 'keep.txt').read_text() == 'precious'
    with pytest.raises(ValueError, match='not divisible'):
        build_demo_dataset(str(tmp_path / 'x'), gt_size=30, scales=(4, ))
    assert not os.path.exists(tmp_path / 'x')
