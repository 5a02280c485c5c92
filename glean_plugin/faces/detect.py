"""Offline face and eye detection with the Haar cascades that ship inside
the ``opencv-python`` package (``cv2.data.haarcascades``): no weights to
download, frontal faces only."""
import functools
import itertools
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Tuple

import cv2
import numpy as np

__all__ = ['EYE_CASCADE', 'FACE_CASCADE', 'FaceDetection', 'detect_faces',
           'pick_eye_pair']

FACE_CASCADE = 'haarcascade_frontalface_default.xml'
EYE_CASCADE = 'haarcascade_eye.xml'
# OpenCV's usual detection settings: 10 % steps between scales; a face needs
# 5 overlapping hits (the default 3 lets through textures in busy photos).
SCALE_FACTOR = 1.1
FACE_MIN_NEIGHBORS = 5
EYE_MIN_NEIGHBORS = 3
# The frontal cascade's own window: nothing smaller can be found.
MIN_FACE_SIZE = 24
# Eyes are looked for in the top part of the face box only (the mouth and
# nostrils are the eye cascade's usual false hits).
EYE_REGION = 0.6
# A plausible eye pair, in face-box widths: eyes 0.2-0.7 widths apart, on
# either side of the box's centre, and at most this tilted (dy / dx, ~20
# degrees: the frontal cascade finds little beyond that).
EYE_DISTANCE_RANGE = (0.2, 0.7)
MAX_EYE_TILT = 0.36

Point = Tuple[float, float]
Box = Tuple[int, int, int, int]


@dataclass(frozen=True)
class FaceDetection:
    """One face found in a photo.

    Args:
        box (tuple[int, int, int, int]): (x, y, width, height) in pixels.
        eyes (tuple[Point, Point], optional): centres (x, y) of the eye on
            the image's left and of the one on its right, or None when no
            plausible pair was found.
    """

    box: Box
    eyes: Optional[Tuple[Point, Point]] = None


@functools.lru_cache(maxsize=None)
def _cascade(name: str) -> 'cv2.CascadeClassifier':
    folder = getattr(getattr(cv2, 'data', None), 'haarcascades', None)
    path = osp.join(folder, name) if folder else None
    if path is None or not osp.isfile(path):
        raise ImportError(
            f"face detection needs OpenCV's Haar cascade {name!r}, which "
            'opencv-python ships in cv2.data.haarcascades; the installed '
            f'OpenCV ({cv2.__version__}) has none: install opencv-python or '
            'opencv-python-headless')
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise ImportError(f'OpenCV could not load the Haar cascade {path!r}')
    return cascade


def _grey(img: np.ndarray) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or \
            img.ndim != 3 or img.shape[2] not in (1, 3):
        got = (f'{img.dtype} array of shape {img.shape}' if isinstance(
            img, np.ndarray) else type(img).__name__)
        raise ValueError(f'expected a uint8 (H, W, 1 or 3) image, got {got}')
    if img.shape[2] == 1:
        return np.ascontiguousarray(img[..., 0])
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def pick_eye_pair(candidates: np.ndarray, box: Box
                  ) -> Optional[Tuple[Point, Point]]:
    """The most plausible eye pair among eye-cascade hits in a face box.

    Args:
        candidates (ndarray): (K, 4) hits (x, y, w, h) in photo pixels.
        box (tuple[int, int, int, int]): the face (x, y, w, h).

    Returns:
        tuple[Point, Point] | None: the centres (left one first), the pair
        most symmetric about the box's centre with the most similar sizes
        among the plausible ones (``EYE_DISTANCE_RANGE``, ``MAX_EYE_TILT``,
        one on each side of the centre); None if there is none.
    """
    x0, _, width, _ = box
    centre_x = x0 + width / 2
    best, best_score = None, np.inf
    for a, b in itertools.combinations(np.asarray(candidates, float), 2):
        (ax, ay), (bx, by) = a[:2] + a[2:] / 2, b[:2] + b[2:] / 2
        if ax > bx:
            (ax, ay, a), (bx, by, b) = (bx, by, b), (ax, ay, a)
        dx, dy = bx - ax, by - ay
        if not (EYE_DISTANCE_RANGE[0] * width <= dx <=
                EYE_DISTANCE_RANGE[1] * width) or \
                abs(dy) > MAX_EYE_TILT * dx or not ax < centre_x < bx:
            continue
        score = (abs((ax + bx) / 2 - centre_x) + abs(a[2] - b[2])) / width
        if score < best_score:
            best, best_score = ((ax, ay), (bx, by)), score
    return best


def detect_faces(img: np.ndarray,
                 min_size: int = MIN_FACE_SIZE) -> List[FaceDetection]:
    """Find frontal faces and, inside each, its eyes.

    Args:
        img (ndarray): uint8 (H, W, 3) RGB or (H, W, 1) grey photo.
        min_size (int): smallest face box side searched, in pixels (at
            least the cascade's ``MIN_FACE_SIZE``).

    Returns:
        list[FaceDetection]: in reading order (top to bottom, then left to
        right, by box centre); empty when there is no face.

    Raises:
        ValueError: not a uint8 image, or ``min_size`` below
            ``MIN_FACE_SIZE``.
        ImportError: the installed OpenCV ships no cascades.
    """
    if isinstance(min_size, bool) or not isinstance(min_size, int) or \
            min_size < MIN_FACE_SIZE:
        raise ValueError(f'min_size must be an int >= {MIN_FACE_SIZE} (the '
                         f"cascade's window), got {min_size!r}")
    grey = cv2.equalizeHist(_grey(img))
    boxes = _cascade(FACE_CASCADE).detectMultiScale(
        grey, scaleFactor=SCALE_FACTOR, minNeighbors=FACE_MIN_NEIGHBORS,
        minSize=(min_size, min_size))
    faces = []
    for x, y, w, h in sorted((tuple(int(v) for v in b) for b in boxes),
                             key=lambda b: (b[1] + b[3] / 2, b[0] + b[2] / 2)):
        top = grey[y:y + int(round(h * EYE_REGION)), x:x + w]
        hits = _cascade(EYE_CASCADE).detectMultiScale(
            top, scaleFactor=SCALE_FACTOR, minNeighbors=EYE_MIN_NEIGHBORS)
        hits = np.asarray(hits, float).reshape(-1, 4) + (x, y, 0, 0)
        faces.append(FaceDetection((x, y, w, h), pick_eye_pair(hits,
                                                               (x, y, w, h))))
    return faces
