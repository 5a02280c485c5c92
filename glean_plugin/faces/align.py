"""Face alignment and paste-back: similarity transforms, aligned crops and a
feathered mask.

Coordinates are OpenCV's: pixel (i, j) has its centre at x = j, y = i, so
an image of side n spans [-0.5, n - 0.5]. A transform is a (2, 3) float64
affine matrix ``m`` mapping (x, y) to ``m[:, :2] @ (x, y) + m[:, 2]``.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .detect import Box, Point

__all__ = ['BOX_CROP_SCALE', 'EYE_TEMPLATE', 'FEATHER', 'box_alignment',
           'compose', 'eye_alignment', 'feather_mask', 'invert', 'paste',
           'resize_matrix', 'similarity_from_points', 'transform_scale',
           'transform_points', 'warp_crop']

# Where FFHQ-aligned faces have their eyes, as fractions of the crop's side
# (the eye centres of facexlib's 512-pixel FFHQ template, made symmetric):
# GLEAN's face models are trained on such crops.
EYE_TEMPLATE = ((0.377, 0.469), (0.623, 0.469))
# Without eyes, a square of this many face-box sides around the box: the
# frontal cascade's box is about 2.5 eye distances wide, an FFHQ crop 4.
BOX_CROP_SCALE = 1.6
# Width of the mask's ramp from 0 (edge) to 1, as a fraction of its side.
FEATHER = 0.1


def _matrix(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    if m.shape != (2, 3):
        raise ValueError(f'expected a (2, 3) affine matrix, got shape '
                         f'{m.shape}')
    return m


def similarity_from_points(src: Sequence[Point],
                           dst: Sequence[Point]) -> np.ndarray:
    """The similarity (rotation, uniform scale, shift) taking two points to
    two others exactly.

    Args:
        src (Sequence[Point]): two distinct points (x, y).
        dst (Sequence[Point]): where they go.

    Returns:
        ndarray: (2, 3) float64 matrix with ``src[k] -> dst[k]``.

    Raises:
        ValueError: not two points each, or the source points coincide.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    if src.shape != (2, 2) or dst.shape != (2, 2):
        raise ValueError(f'expected two (x, y) points each, got shapes '
                         f'{src.shape} and {dst.shape}')
    p = src[:, 0] + 1j * src[:, 1]
    q = dst[:, 0] + 1j * dst[:, 1]
    if p[0] == p[1]:
        raise ValueError(f'the source points coincide: {src.tolist()}')
    a = (q[1] - q[0]) / (p[1] - p[0])  # rotation and scale as one complex
    t = q[0] - a * p[0]
    return np.array([[a.real, -a.imag, t.real], [a.imag, a.real, t.imag]])


def compose(*matrices: np.ndarray) -> np.ndarray:
    """``compose(a, b)`` applies ``b`` first, then ``a`` (as ``a @ b``)."""
    out = np.eye(3)
    for m in matrices:
        out = out @ np.vstack([_matrix(m), (0, 0, 1)])
    return out[:2]


def invert(m: np.ndarray) -> np.ndarray:
    """The inverse affine transform of ``m`` (2, 3)."""
    return cv2.invertAffineTransform(_matrix(m))


def transform_points(m: np.ndarray, points: Sequence[Point]) -> np.ndarray:
    """(K, 2) points mapped by ``m``."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    m = _matrix(m)
    return points @ m[:, :2].T + m[:, 2]


def transform_scale(m: np.ndarray) -> float:
    """How much ``m`` enlarges lengths (its uniform part, sqrt |det|)."""
    return float(np.sqrt(abs(np.linalg.det(_matrix(m)[:, :2]))))


def resize_matrix(fx: float, fy: Optional[float] = None) -> np.ndarray:
    """The map from an image to itself resized by (fx, fy), pixel centres
    aligned as ``cv2.resize`` aligns them."""
    fy = fx if fy is None else fy
    return np.array([[fx, 0, (fx - 1) / 2], [0, fy, (fy - 1) / 2]])


def eye_alignment(eyes: Tuple[Point, Point], side: int) -> np.ndarray:
    """Photo -> aligned crop of ``side`` pixels with the eyes where
    ``EYE_TEMPLATE`` puts them.

    Args:
        eyes (tuple[Point, Point]): eye centres in the photo, the one on the
            image's left first.
        side (int): the crop's side.

    Returns:
        ndarray: (2, 3) similarity.
    """
    dst = np.asarray(EYE_TEMPLATE) * side - 0.5
    return similarity_from_points(eyes, dst)


def box_alignment(box: Box, side: int,
                  crop_scale: float = BOX_CROP_SCALE) -> np.ndarray:
    """Photo -> crop of ``side`` pixels: the square of ``crop_scale`` times
    the box's longer side around the box's centre (no rotation).

    Args:
        box (tuple[int, int, int, int]): (x, y, width, height).
        side (int): the crop's side.
        crop_scale (float): the square's side in box sides.

    Returns:
        ndarray: (2, 3) scale-and-shift.
    """
    x, y, w, h = box
    scale = side / (crop_scale * max(w, h))
    # box edges at x - 0.5 and x + w - 0.5: its centre is x + (w - 1) / 2
    cx, cy = x + (w - 1) / 2, y + (h - 1) / 2
    centre = (side - 1) / 2
    return np.array([[scale, 0, centre - scale * cx],
                     [0, scale, centre - scale * cy]])


def warp_crop(img: np.ndarray, m: np.ndarray, side: int) -> np.ndarray:
    """The (side, side) crop that ``m`` maps ``img`` onto (bicubic; beyond
    the photo's edge, mirrored).

    Args:
        img (ndarray): uint8 (H, W, C).
        m (ndarray): (2, 3) photo -> crop.
        side (int): the crop's side.

    Returns:
        ndarray: uint8 (side, side, C).
    """
    out = cv2.warpAffine(img, _matrix(m), (side, side),
                         flags=cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REFLECT_101)
    return out.reshape(side, side, img.shape[2])


def feather_mask(side: int, feather: float = FEATHER) -> np.ndarray:
    """A square mask: 0 on its border, rising smoothly (smoothstep) over
    ``feather * side`` pixels to 1 inside.

    Args:
        side (int): the mask's side (>= 1).
        feather (float): the ramp's width as a fraction of ``side``, in
            (0, 0.5].

    Returns:
        ndarray: float32 (side, side) in [0, 1].
    """
    if not 0 < feather <= 0.5:
        raise ValueError(f'feather must be in (0, 0.5], got {feather!r}')
    if isinstance(side, bool) or not isinstance(side, (int, np.integer)) \
            or side < 1:
        raise ValueError(f'side must be a positive int, got {side!r}')
    ramp = max(1.0, feather * side)
    i = np.arange(side)
    t = np.clip(np.minimum(i, side - 1 - i) / ramp, 0, 1)
    t = t * t * (3 - 2 * t)
    return np.outer(t, t).astype(np.float32)


def paste(canvas: np.ndarray, face: np.ndarray, m: np.ndarray,
          feather: float = FEATHER) -> np.ndarray:
    """Blend ``face`` into ``canvas`` through the inverse of ``m`` with a
    feathered mask (``feather_mask``); pixels the mask does not reach keep
    their values exactly.

    A face that lands smaller than it is is first shrunk with area
    averaging (no aliasing), then warped bicubic.

    Args:
        canvas (ndarray): uint8 (H, W, C), not changed.
        face (ndarray): uint8 (S, S, C).
        m (ndarray): (2, 3) canvas -> face.
        feather (float): see ``feather_mask``.

    Returns:
        ndarray: uint8 (H, W, C), a new array.
    """
    side = face.shape[0]
    zoom = 1 / transform_scale(m)  # canvas pixels per face pixel
    if zoom < 1:
        small = max(1, int(round(side * zoom)))
        face = cv2.resize(face, (small, small), interpolation=cv2.INTER_AREA
                          ).reshape(small, small, face.shape[2])
        m = compose(resize_matrix(small / side), m)
        side = small
    to_canvas = invert(m)
    edge = (-0.5, side - 0.5)
    corners = transform_points(to_canvas, [(x, y) for x in edge for y in edge])
    height, width = canvas.shape[:2]
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
    x1 = min(width, int(np.ceil(corners[:, 0].max())) + 1)
    y1 = min(height, int(np.ceil(corners[:, 1].max())) + 1)
    out = canvas.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    to_roi = compose(np.array([[1, 0, -x0], [0, 1, -y0]], float), to_canvas)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(face, to_roi, size, flags=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(feather_mask(side, feather), to_roi, size,
                           flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    roi = out[y0:y1, x0:x1].astype(np.float32)
    warped = warped.reshape(roi.shape).astype(np.float32)
    blended = roi + alpha[..., None] * (warped - roi)
    out[y0:y1, x0:x1] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
    return out
