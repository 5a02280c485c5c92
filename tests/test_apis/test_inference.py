"""glean_plugin.apis.inference: super-resolution and retouching of arrays."""
import numpy as np
import pytest
import torch

from glean_plugin.apis import (InferenceSettings, InputResizedWarning,
                               InputSizeError, fit_input_shape, init_generator,
                               matlab_resize, retouch, retouch_input,
                               super_resolve)
from glean_plugin.datasets import matlab_downsample
from tests.support.tiny_glean import (CONFIG, IN_SIZE, OUT_SIZE, SCALE,
                                      random_images, save_checkpoint)

# uint8 outputs of mathematically equal computations may round apart by one
ROUNDING = 1


@pytest.fixture(scope='module')
def generator(tmp_path_factory):
    ckpt = save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'model.pth')
    return init_generator(CONFIG, ckpt, 'cpu')


def max_diff(a, b) -> int:
    return int(np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int))
               .max())


def test_equals_the_generator_on_normalised_input(generator):
    images = random_images(3)
    out = super_resolve(generator, images)
    assert [o.shape for o in out] == [(OUT_SIZE, OUT_SIZE, 3)] * 3
    assert all(o.dtype == np.uint8 for o in out)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        y = generator((x - 127.5) / 127.5) * 127.5 + 127.5
    ref = y.clamp(0, 255).round().byte().permute(0, 2, 3, 1).numpy()
    assert max_diff(np.stack(out), ref) <= ROUNDING
    assert max_diff(out[0], out[1]) > 10, 'outputs do not depend on inputs'


def test_batches_give_the_results_of_single_images(generator):
    images = random_images(5, seed=1)
    single = super_resolve(generator, images, batch_size=1)
    batched = super_resolve(generator, images, batch_size=3)
    assert len(batched) == 5
    assert max_diff(np.stack(batched), np.stack(single)) <= ROUNDING


def test_bgr_models_get_bgr_inputs_and_return_rgb(generator):
    images = random_images(2, seed=2)
    bgr = super_resolve(generator, images,
                        InferenceSettings(channel_order='bgr'))
    flipped = super_resolve(generator, [im[..., ::-1] for im in images])
    assert max_diff(np.stack(bgr), np.stack(flipped)[..., ::-1]) <= ROUNDING


def test_bad_inputs_are_refused(generator):
    with pytest.raises(InputSizeError,
                       match=r'images\[1\]: the model takes 8x8 .* got 12x8'):
        super_resolve(generator, random_images(1) + random_images(
            1, width=12))
    with pytest.raises(TypeError, match='expected a uint8 ndarray, got '
                       'ndarray of float32'):
        super_resolve(generator, [np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(ValueError, match='batch_size must be a positive int, '
                       'got 0'):
        super_resolve(generator, random_images(1), batch_size=0)


def test_resize_is_explicit_and_matlab_like():
    img = random_images(1, size=20, width=30)[0]
    with pytest.raises(InputSizeError, match=r'a.png: the model takes 8x8 '
                       r'\(WxH\) inputs, got 30x20'):
        fit_input_shape(img, IN_SIZE, name='a.png')
    square = random_images(1, size=20)[0]
    with pytest.warns(InputResizedWarning,
                      match=r'a.png: resized MATLAB-like from 20x20 to 8x8 '
                      r'\(WxH\)$'):
        out = fit_input_shape(square, IN_SIZE, resize=True, name='a.png')
    np.testing.assert_array_equal(out, matlab_resize(square, (8, 8)))
    fits = random_images(1, size=IN_SIZE)[0]
    assert fit_input_shape(fits, IN_SIZE) is fits
    assert fit_input_shape(fits, (IN_SIZE, IN_SIZE)) is fits


def test_matlab_resize_by_an_integer_factor_is_matlab_downsample():
    img = random_images(1, size=48, seed=3)[0]
    np.testing.assert_array_equal(matlab_resize(img, (12, 12)),
                                  matlab_downsample(img, 4))
    assert matlab_resize(img, (10, 20)).shape == (10, 20, 3)


def test_retouch_downsamples_as_training_data_then_super_resolves(generator):
    edited = random_images(1, size=OUT_SIZE, seed=4)[0]
    edited[20:40, 20:40] = (255, 0, 0)  # a red square painted on it
    out, lr = retouch(generator, edited)
    np.testing.assert_array_equal(lr, matlab_downsample(edited, SCALE))
    assert out.shape == (OUT_SIZE, OUT_SIZE, 3)
    np.testing.assert_array_equal(out, super_resolve(generator, [lr])[0])


def test_retouch_input_sizes():
    big = random_images(1, size=2 * OUT_SIZE, seed=5)[0]
    np.testing.assert_array_equal(retouch_input(big, IN_SIZE),
                                  matlab_downsample(big, 2 * SCALE))
    odd = random_images(1, size=60, seed=6)[0]
    with pytest.raises(InputSizeError, match=r"k times the model's input "
                       r'shape 8x8 \(WxH\) .* got 60x60'):
        retouch_input(odd, IN_SIZE)
    with pytest.warns(InputResizedWarning, match='from 60x60 to 8x8'):
        lr = retouch_input(odd, IN_SIZE, resize=True)
    np.testing.assert_array_equal(lr, matlab_resize(odd, (8, 8)))
