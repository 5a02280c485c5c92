"""Rectangular models in the apis: input/output shapes from the generator,
aspect-keeping resize (letterbox with the model's padding, centre crop),
retouching and benchmarking a tiny glean_car_8x (6x8 -> 48x64)."""
import os.path as osp

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import torch.nn as nn

from glean_plugin.apis import (InferenceSettings, InputResizedWarning,
                               InputSizeError)
from glean_plugin.apis import benchmark as bm
from glean_plugin.apis import (fit_input_shape, generator_shapes,
                               letterbox_value, matlab_resize, retouch,
                               retouch_input, super_resolve,
                               super_resolve_files)
from glean_plugin.datasets import matlab_downsample
from glean_plugin.models import GLEANNet
from tests.support.tiny_car import (IN_SHAPE, OUT_SHAPE, ROUNDING, SCALE,
                                    TINY_GENERATOR, image)

FILL = (1, 2, 3)


# ----------------------------------------------------------------- shapes
def test_shapes_come_from_the_generator(generator):
    assert generator_shapes(generator) == (IN_SHAPE, OUT_SHAPE)

    class Square(nn.Module):  # e.g. MMagic's GLEANStyleGANv2
        in_size, out_size = 16, 64

    assert generator_shapes(Square()) == ((16, 16), (64, 64))
    with pytest.raises(TypeError, match='input_shape and output_shape, or '
                       'in_size and out_size .* got a Conv2d'):
        generator_shapes(nn.Conv2d(3, 3, 1))


def test_letterbox_value_is_the_pad_value_as_a_pixel(generator):
    assert letterbox_value(generator) == (0, 0, 0)  # -1: black
    grey = GLEANNet(**TINY_GENERATOR, in_shape=IN_SHAPE, pad_value=0.5)
    settings = InferenceSettings(mean=(10., 20., 30.), std=(100., ) * 3,
                                 channel_order='bgr')
    # 0.5 * 100 + mean in the model's (BGR) order, returned as RGB
    assert letterbox_value(grey, settings) == (80, 70, 60)
    assert letterbox_value(nn.Conv2d(3, 3, 1)) == (0, 0, 0)


def test_super_resolve_takes_the_input_shape(generator):
    images = [image(*IN_SHAPE, seed=s) for s in range(2)]
    out = super_resolve(generator, images)
    assert [o.shape for o in out] == [OUT_SHAPE + (3, )] * 2
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        y = generator((x - 127.5) / 127.5) * 127.5 + 127.5
    ref = y.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert np.abs(np.stack(out).astype(int) - ref).max() <= ROUNDING
    # the square side or the transposed shape is refused, naming both
    for h, w in ((8, 8), (8, 6)):
        with pytest.raises(InputSizeError, match=r'images\[0\]: the model '
                           rf'takes 8x6 \(WxH\) inputs, got {w}x{h}$'):
            super_resolve(generator, [image(h, w)])


# ---------------------------------------------------------------- resize

def test_letterbox_keeps_the_aspect_ratio_and_pads():
    img = image(12, 12)
    with pytest.warns(InputResizedWarning) as record:
        out = fit_input_shape(img, IN_SHAPE, resize=True, name='a.png',
                              resize_mode='pad', fill=FILL)
    assert str(record[0].message) == (
        'a.png: resized MATLAB-like from 12x12 to 6x6 (aspect ratio kept) '
        'and padded to 8x6 (WxH) with pixel value (1, 2, 3)')
    assert out.shape == IN_SHAPE + (3, )
    np.testing.assert_array_equal(out[:, 1:7], matlab_resize(img, (6, 6)))
    assert (out[:, [0, 7]] == FILL).all()
    # tall: 16x8 -> 6x3 inside, 2 columns left and 3 right
    tall = image(16, 8)
    with pytest.warns(InputResizedWarning, match='to 3x6 .* padded to 8x6'):
        out = fit_input_shape(tall, IN_SHAPE, True, resize_mode='pad')
    np.testing.assert_array_equal(out[:, 2:5], matlab_resize(tall, (6, 3)))
    assert (out[:, :2] == 0).all() and (out[:, 5:] == 0).all()


def test_centre_crop_keeps_the_aspect_ratio():
    img = image(12, 12)
    with pytest.warns(InputResizedWarning) as record:
        out = fit_input_shape(img, IN_SHAPE, True, 'a.png', 'crop')
    assert str(record[0].message) == (
        "a.png: centre-cropped from 12x12 to 12x9 (the model's aspect "
        'ratio), then resized MATLAB-like to 8x6 (WxH)')
    np.testing.assert_array_equal(out, matlab_resize(img[1:10], IN_SHAPE))
    # the window is the model's shape: cropped, not resized
    wide = image(6, 12)
    with pytest.warns(InputResizedWarning, match=r'from 12x6 to 8x6 .*'
                      r'aspect ratio\) \(WxH\)$'):
        out = fit_input_shape(wide, IN_SHAPE, True, resize_mode='crop')
    np.testing.assert_array_equal(out, wide[:, 2:10])


@pytest.mark.parametrize('mode', ['pad', 'crop'])
@pytest.mark.parametrize('shape,given', [
    (IN_SHAPE, (12, 16)),   # the model's aspect ratio
    ((8, 8), (20, 20)),     # a square model, a square image: as before
])
def test_same_aspect_ratio_is_a_plain_resize(mode, shape, given):
    img = image(*given)
    with pytest.warns(InputResizedWarning, match=r'resized MATLAB-like from '
                      rf'{given[1]}x{given[0]} to {shape[1]}x{shape[0]} '
                      r'\(WxH\)$'):
        out = fit_input_shape(img, shape, True, resize_mode=mode, fill=FILL)
    np.testing.assert_array_equal(out, matlab_resize(img, shape))


def test_bad_resize_arguments():
    img = image(12, 12)
    with pytest.raises(InputSizeError, match=r'a.png: the model takes 8x6 '
                       r'\(WxH\) inputs, got 12x12'):
        fit_input_shape(img, IN_SHAPE, name='a.png')
    with pytest.raises(ValueError, match=r"resize_mode must be one of "
                       r"\('pad', 'crop'\), got 'stretch'"):
        fit_input_shape(img, IN_SHAPE, True, resize_mode='stretch')
    with pytest.raises(ValueError, match=r'fill must be 1 or 3 values in '
                       r'\[0, 255\], got \(0, 0\)'):
        fit_input_shape(img, IN_SHAPE, True, fill=(0, 0))
    with pytest.raises(ValueError, match=r'shape must be a positive int or '
                       r'\(height, width\) .* got \(6, 0\)'):
        fit_input_shape(img, (6, 0), True)


# --------------------------------------------------------------- retouch

def test_retouch_takes_multiples_of_the_input_shape(generator):
    edited = image(*OUT_SHAPE, seed=1)
    out, lr = retouch(generator, edited)
    np.testing.assert_array_equal(lr, matlab_downsample(edited, SCALE))
    np.testing.assert_array_equal(out, super_resolve(generator, [lr])[0])
    big = image(2 * OUT_SHAPE[0], 2 * OUT_SHAPE[1], seed=2)
    np.testing.assert_array_equal(retouch_input(big, IN_SHAPE),
                                  matlab_downsample(big, 2 * SCALE))
    # 48x72: a multiple on each axis, but not the same one
    for h, w in ((48, 48), (48, 72)):
        with pytest.raises(InputSizeError, match=r"e.png: retouching takes "
                           r"an image of k times the model's input shape "
                           rf'8x6 \(WxH\) .* got {w}x{h}$'):
            retouch(generator, image(h, w), name='e.png')


def test_retouch_resize_keeps_the_aspect_ratio(generator):
    edited = image(48, 48, seed=3)
    with pytest.warns(InputResizedWarning, match='padded to 8x6'):
        _, lr = retouch(generator, edited, resize=True)
    np.testing.assert_array_equal(lr[:, 1:7], matlab_resize(edited, (6, 6)))
    assert (lr[:, [0, 7]] == 0).all()
    with pytest.warns(InputResizedWarning, match='centre-cropped'):
        _, lr = retouch(generator, edited, resize=True, resize_mode='crop')
    np.testing.assert_array_equal(lr, matlab_resize(edited[6:42], IN_SHAPE))


# ----------------------------------------------------------------- files

def test_files_wrong_shape_writes_nothing(generator, tmp_path):
    in_dir = tmp_path / 'in'
    in_dir.mkdir()
    iio.imwrite(in_dir / 'ok.png', image(*IN_SHAPE))
    iio.imwrite(in_dir / 'square.png', image(8, 8))
    out_dir = tmp_path / 'out'
    with pytest.raises(InputSizeError, match=r'the model takes 8x6 \(WxH\) '
                       r'inputs; 1 input\(s\) differ: .*square.png \(8x8\)'):
        super_resolve_files(generator, str(in_dir), str(out_dir),
                            progress=False)
    with pytest.raises(ValueError, match='resize_mode must be one of'):
        super_resolve_files(generator, str(in_dir), str(out_dir),
                            resize=True, resize_mode='fit', progress=False)
    assert not osp.exists(out_dir)
    with pytest.warns(InputResizedWarning, match='square.png: centre-crop'):
        summary = super_resolve_files(generator, str(in_dir), str(out_dir),
                                      resize=True, resize_mode='crop',
                                      progress=False)
    assert summary.resized == [str(in_dir / 'square.png')]
    for path in summary.written:
        assert iio.imread(path).shape == OUT_SHAPE + (3, )


# ------------------------------------------------------------- benchmark

def write_pairs(root, lr_shape, num=2):
    """root/GT and root/BIx8_down: GT images of 8 times ``lr_shape``."""
    gt_shape = (lr_shape[0] * SCALE, lr_shape[1] * SCALE)
    for folder in ('GT', f'BIx{SCALE}_down'):
        (root / folder).mkdir(parents=True)
    for i in range(num):
        gt = matlab_resize(image(4, 4, seed=i), gt_shape)  # smooth
        iio.imwrite(root / 'GT' / f'{i}.png', gt)
        iio.imwrite(root / f'BIx{SCALE}_down' / f'{i}.png',
                    matlab_downsample(gt, SCALE))
    return str(root)


def test_benchmark_runs_rectangular_models_on_their_shape(car, generator,
                                                          tmp_path):
    spec = bm.ModelSpec('car', *car)
    timing = bm.TimingSettings(warmup=0, repeats=1)
    data = bm.load_paired_data(write_pairs(tmp_path / 'car', IN_SHAPE))
    result = bm.benchmark_model(spec, data, bm.ImageQuality(), timing,
                                'cpu', keep=(1, ))
    assert result.ok, result.reason
    np.testing.assert_array_equal(
        result.kept[1], super_resolve(generator, [data.lrs[1]])[0])
    assert result.metrics['psnr'] > 0
    square = bm.load_paired_data(write_pairs(tmp_path / 'square', (8, 8)))
    result = bm.benchmark_model(spec, square, bm.ImageQuality(), timing,
                                'cpu')
    assert result.status == 'skipped'
    assert result.reason.startswith(
        f'takes 8x6 (WxH) inputs; 2 of 2 LR images in BIx{SCALE}_down '
        'differ: 0.png (8x8)')
