"""Haar-cascade face and eye detection (OpenCV's shipped cascades)."""
import numpy as np
import pytest
from skimage import data

from glean_plugin.faces import detect_faces, pick_eye_pair


def test_astronaut_has_one_face_with_eyes():
    faces = detect_faces(data.astronaut())
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    # Eileen Collins' face is in the upper middle of the 512x512 photo
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 160 and 60 < w < 140
    (lx, ly), (rx, ry) = faces[0].eyes
    assert x < lx < x + w / 2 < rx < x + w
    assert y < ly < y + h / 2 and y < ry < y + h / 2


def test_grey_photo_has_no_face():
    assert detect_faces(np.full((200, 300, 3), 128, np.uint8)) == []
    assert detect_faces(np.full((64, 64, 1), 128, np.uint8)) == []


def test_pick_eye_pair_prefers_the_symmetric_pair():
    box = (0, 0, 100, 100)
    hits = np.array([[20, 30, 16, 16],   # left eye
                     [64, 31, 16, 16],   # right eye
                     [40, 60, 20, 12],   # nostrils (centre line)
                     [70, 32, 30, 30]])  # too big, off-centre
    (lx, ly), (rx, ry) = pick_eye_pair(hits, box)
    assert (lx, ly, rx, ry) == (28, 38, 72, 39)


@pytest.mark.parametrize('hits', [
    [[20, 30, 16, 16]],                       # one eye
    [[10, 30, 16, 16], [30, 30, 16, 16]],     # both left of the centre
    [[20, 10, 16, 16], [64, 50, 16, 16]],     # too tilted
    [[0, 30, 10, 10], [90, 30, 10, 10]],      # too far apart
])
def test_pick_eye_pair_rejects_implausible_pairs(hits):
    assert pick_eye_pair(np.array(hits, float), (0, 0, 100, 100)) is None


def test_detect_faces_refuses_bad_input():
    with pytest.raises(ValueError, match='uint8'):
        detect_faces(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match='min_size'):
        detect_faces(np.zeros((10, 10, 3), np.uint8), min_size=5)
