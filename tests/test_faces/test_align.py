"""Alignment transforms, the feathered mask and the paste-back."""
import numpy as np
import pytest

from glean_plugin.faces import (BOX_CROP_SCALE, EYE_TEMPLATE, box_alignment,
                                compose, eye_alignment, feather_mask, invert,
                                paste, resize_matrix, similarity_from_points,
                                transform_points, transform_scale)


def _similarity(angle, scale, shift):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


@pytest.mark.parametrize('angle,scale,shift', [
    (0.0, 1.0, (0, 0)), (0.3, 0.5, (10, -4)), (-2.5, 3.2, (-100, 7.5))])
def test_similarity_round_trip(angle, scale, shift):
    truth = _similarity(angle, scale, shift)
    src = np.array([[12.0, 40.0], [57.5, 43.0]])
    dst = transform_points(truth, src)
    m = similarity_from_points(src, dst)
    np.testing.assert_allclose(m, truth, atol=1e-9)
    np.testing.assert_allclose(transform_points(m, src), dst, atol=1e-9)
    others = np.array([[0.0, 0.0], [300.0, -20.0], [5.0, 99.0]])
    back = transform_points(invert(m), transform_points(m, others))
    np.testing.assert_allclose(back, others, atol=1e-9)
    assert transform_scale(m) == pytest.approx(scale)


def test_similarity_refuses_coinciding_points():
    with pytest.raises(ValueError, match='coincide'):
        similarity_from_points([(1, 2), (1, 2)], [(0, 0), (1, 0)])
    with pytest.raises(ValueError, match='two'):
        similarity_from_points([(1, 2)], [(0, 0), (1, 0)])


def test_compose_applies_right_to_left():
    a, b = _similarity(0.2, 2.0, (1, 2)), _similarity(-1.0, 0.5, (3, -1))
    p = np.array([[4.0, 5.0]])
    np.testing.assert_allclose(transform_points(compose(a, b), p),
                               transform_points(a, transform_points(b, p)))


def test_resize_matrix_matches_pixel_edges():
    # a 4-pixel image enlarged to 8: edge -0.5 -> -0.5, 3.5 -> 7.5
    m = resize_matrix(2.0)
    np.testing.assert_allclose(transform_points(m, [(-0.5, 3.5)]),
                               [(-0.5, 7.5)])


def test_eye_alignment_puts_eyes_on_template():
    eyes = ((201.0, 100.0), (246.5, 102.5))
    side = 128
    m = eye_alignment(eyes, side)
    expected = np.asarray(EYE_TEMPLATE) * side - 0.5
    np.testing.assert_allclose(transform_points(m, eyes), expected,
                               atol=1e-9)
    # a tilted face is turned upright: the crop's eye line is horizontal
    dist = np.hypot(45.5, 2.5)
    assert transform_scale(m) == pytest.approx(
        (EYE_TEMPLATE[1][0] - EYE_TEMPLATE[0][0]) * side / dist)


def test_box_alignment_centres_the_box_with_margin():
    box = (50, 30, 40, 40)
    side = 64
    m = box_alignment(box, side)
    centre = transform_points(m, [(50 + 19.5, 30 + 19.5)])
    np.testing.assert_allclose(centre, [((side - 1) / 2, (side - 1) / 2)])
    assert transform_scale(m) == pytest.approx(side / (BOX_CROP_SCALE * 40))


@pytest.mark.parametrize('side', [1, 7, 64, 255])
def test_feather_mask_values(side):
    mask = feather_mask(side, 0.1)
    assert mask.shape == (side, side) and mask.dtype == np.float32
    assert mask.min() >= 0 and mask.max() <= 1
    if side > 2:
        assert mask[0].max() == 0 and mask[-1].max() == 0
        assert mask[:, 0].max() == 0 and mask[:, -1].max() == 0
    if side >= 7:
        assert mask[side // 2, side // 2] == 1
    np.testing.assert_array_equal(mask, mask.T)
    np.testing.assert_array_equal(mask, mask[::-1, ::-1])


def test_feather_mask_rises_monotonically_to_the_middle():
    row = feather_mask(100, 0.2)[50]
    assert np.all(np.diff(row[:51]) >= 0) and row[20] == 1 and 0 < row[5] < 1


@pytest.mark.parametrize('feather', [0, -0.1, 0.6])
def test_feather_mask_refuses_bad_feather(feather):
    with pytest.raises(ValueError, match='feather'):
        feather_mask(10, feather)


@pytest.mark.parametrize('zoom', [1.5, 0.4])
def test_paste_changes_only_inside_the_crop(zoom):
    rng = np.random.default_rng(0)
    canvas = rng.integers(0, 256, (120, 150, 3), dtype=np.uint8)
    face = np.full((40, 40, 3), 7, np.uint8)
    # canvas -> face: the face lands as a square of side 40 * zoom at
    # (30, 20), rotated a little
    to_canvas = compose(np.array([[1, 0, 30], [0, 1, 20]], float),
                        _similarity(0.1, zoom, (0, 0)))
    out = paste(canvas, face, invert(to_canvas))
    quad = transform_points(to_canvas, [(-0.5, -0.5), (39.5, -0.5),
                                        (39.5, 39.5), (-0.5, 39.5)])
    lo, hi = np.floor(quad.min(0)).astype(int), np.ceil(quad.max(0))
    outside = np.ones(canvas.shape[:2], bool)
    outside[max(lo[1] - 1, 0):int(hi[1]) + 2,
            max(lo[0] - 1, 0):int(hi[0]) + 2] = False
    np.testing.assert_array_equal(out[outside], canvas[outside])
    centre = transform_points(to_canvas, [(19.5, 19.5)])[0].round().astype(int)
    np.testing.assert_array_equal(out[centre[1], centre[0]], (7, 7, 7))
    assert out is not canvas and (out != canvas).any()
