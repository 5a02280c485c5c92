"""``glean_plugin.image``: the one MATLAB-like resize, the image <-> tensor
normalisation pair and PNG writing, and that the old import paths name
them."""
import imageio.v3 as iio
import numpy as np
import pytest
import torch

import glean_plugin.apis as apis
import glean_plugin.datasets as datasets
from glean_plugin import image
from glean_plugin.fileio import partial_files


def _img(h=12, w=16, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c),
                                                dtype=np.uint8)


def test_one_function_behind_every_public_name():
    assert datasets.matlab_resize is apis.matlab_resize is \
        image.matlab_resize
    assert datasets.matlab_downsample is image.matlab_downsample
    assert apis.write_png_atomic is image.write_png_atomic


def test_matlab_resize_keeps_channels_and_shape():
    gray = _img(c=1)
    assert image.matlab_resize(gray, (5, 7)).shape == (5, 7, 1)
    np.testing.assert_array_equal(image.matlab_resize(_img(), (3, 4)),
                                  image.matlab_downsample(_img(), 4))


@pytest.mark.parametrize('bad,err', [(np.zeros((4, 4), np.uint8), ValueError),
                                     (np.zeros((4, 4, 3)), TypeError)])
def test_matlab_resize_refuses_bad_images(bad, err):
    with pytest.raises(err, match='expected'):
        image.matlab_resize(bad, (2, 2))


@pytest.mark.parametrize('order', ['rgb', 'bgr'])
def test_normalisation_round_trip(order):
    imgs = [_img(seed=1), _img(seed=2)]
    mean, std = (10.0, 120.0, 200.0), (50.0, 60.0, 70.0)
    x = image.images_to_tensor(imgs, mean, std, order, dtype=torch.float64)
    assert x.shape == (2, 3, 12, 16) and x.dtype == torch.float64
    first = 2 if order == 'bgr' else 0
    expected = (imgs[0][..., first].astype(np.float64) - mean[0]) / std[0]
    np.testing.assert_allclose(x[0, 0].numpy(), expected)
    back = image.tensor_to_images(x, mean, std, order)
    for a, b in zip(back, imgs):
        np.testing.assert_array_equal(a, b)


def test_tensor_to_images_rounds_and_clips():
    y = torch.tensor([[[[-3.0, 0.004]]]])
    (out, ) = image.tensor_to_images(y, (127.5, ), (127.5, ))
    assert out.dtype == np.uint8 and out.tolist() == [[[0], [128]]]


@pytest.mark.parametrize('channels', [1, 3])
def test_write_png_atomic(tmp_path, channels):
    img = _img(c=channels)
    path = tmp_path / 'out' / 'a.png'
    image.write_png_atomic(str(path), img)
    back = iio.imread(path)
    np.testing.assert_array_equal(back.reshape(img.shape), img)
    assert partial_files(str(path.parent)) == []
