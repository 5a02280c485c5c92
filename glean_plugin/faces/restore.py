"""Super-resolve the faces of a photo with a GLEAN face model: detect,
align, super-resolve, paste back.

By default the photo is first enlarged by the model's scale (OpenCV
bicubic) and each restored face is pasted into it at the model's full
output resolution: the output is the photo super-resolved, with GLEAN's
faces. With ``keep_size`` the photo keeps its size and the restored faces
are shrunk into it (a retouch of the faces only).
"""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import cv2
import numpy as np
import torch.nn as nn

from ..apis.generator import InferenceSettings
from ..apis.inference import (format_shape, generator_shapes, matlab_resize,
                              super_resolve)
from .align import (FEATHER, box_alignment, compose, eye_alignment, invert,
                    paste, resize_matrix, transform_points, transform_scale,
                    warp_crop)
from .detect import MIN_FACE_SIZE, FaceDetection, detect_faces

__all__ = ['FaceLimits', 'FaceResult', 'FaceRestoration', 'MAX_OUTPUT_PIXELS',
           'STATUSES', 'restore_faces', 'upscale_photo']

# A face is 'restored', or left as it is because its crop is too small or
# too large for the model (see FaceLimits).
STATUSES = ('restored', 'too_small', 'too_large')
# The largest output photo made (pixels): 8-bit RGB of this size is 384
# MiB, and OpenCV's warps refuse sides beyond 32767.
MAX_OUTPUT_PIXELS = 1 << 27
MAX_OUTPUT_SIDE = 32767


@dataclass(frozen=True)
class FaceLimits:
    """Which faces are worth super-resolving.

    Args:
        max_input_zoom (float): a face whose aligned crop must be enlarged
            more than this to make the model's input is too small (the
            model would see a blurred face; default 2).
        max_paste_zoom (float): a face whose restored crop must be enlarged
            more than this to cover it in the output is too large (the
            output would have less detail than the photo; default 1.5).
    """

    max_input_zoom: float = 2.0
    max_paste_zoom: float = 1.5

    def __post_init__(self) -> None:
        for name in ('max_input_zoom', 'max_paste_zoom'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(
                    value, (int, float)) or not value >= 1:
                raise ValueError(f'{name} must be a number >= 1, got '
                                 f'{value!r}')


@dataclass
class FaceResult:
    """One detected face and what became of it.

    Args:
        detection (FaceDetection): the box and eyes found.
        alignment (str): 'eyes' (similarity from the eyes) or 'box' (the
            box with a margin).
        crop_side (float): the aligned crop's side in photo pixels.
        status (str): one of ``STATUSES``.
        reason (str): why a face was skipped ('' when restored).
        quad (ndarray): (4, 2) corners of the aligned crop in the output
            photo (x, y): top-left, top-right, bottom-right, bottom-left.
        input_crop (ndarray, optional): uint8 (in, in, 3) model input.
        restored_crop (ndarray, optional): uint8 (out, out, 3) model output.
    """

    detection: FaceDetection
    alignment: str
    crop_side: float
    status: str
    reason: str
    quad: np.ndarray
    input_crop: Optional[np.ndarray] = None
    restored_crop: Optional[np.ndarray] = None


@dataclass
class FaceRestoration:
    """The restored photo and its faces.

    Args:
        photo (ndarray): uint8 (H', W', 3) output photo.
        background (ndarray): uint8 (H', W', 3), the photo before pasting
            (its bicubic enlargement, or itself with ``keep_size``).
        scale (float): output pixels per photo pixel (1 with keep_size).
        faces (list[FaceResult]): in ``detect_faces`` order.
    """

    photo: np.ndarray
    background: np.ndarray
    scale: float
    faces: List[FaceResult] = field(default_factory=list)

    @property
    def restored(self) -> List[FaceResult]:
        """The faces that were super-resolved."""
        return [f for f in self.faces if f.status == 'restored']


def upscale_photo(photo: np.ndarray, scale: float) -> np.ndarray:
    """The photo enlarged ``scale`` times with OpenCV's bicubic.

    Args:
        photo (ndarray): uint8 (H, W, C).
        scale (float): > 0.

    Returns:
        ndarray: uint8 (round(H * scale), round(W * scale), C).

    Raises:
        ValueError: the result would exceed ``MAX_OUTPUT_PIXELS`` or
            ``MAX_OUTPUT_SIDE``.
    """
    h, w, c = photo.shape
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if size[0] * size[1] > MAX_OUTPUT_PIXELS or max(size) > MAX_OUTPUT_SIDE:
        raise ValueError(
            f'the photo ({format_shape(photo.shape)}) enlarged {scale:g}x '
            f'would be {format_shape(size)} (WxH), more than '
            f'{MAX_OUTPUT_PIXELS} pixels or {MAX_OUTPUT_SIDE} a side: keep '
            'its size (keep_size, --keep-size) or use a smaller photo')
    out = cv2.resize(photo, (size[1], size[0]),
                     interpolation=cv2.INTER_CUBIC)
    return out.reshape(size[0], size[1], c)


def _as_rgb(photo: np.ndarray) -> np.ndarray:
    if not isinstance(photo, np.ndarray) or photo.dtype != np.uint8 or \
            photo.ndim != 3 or photo.shape[2] not in (1, 3):
        got = (f'{photo.dtype} array of shape {photo.shape}' if isinstance(
            photo, np.ndarray) else type(photo).__name__)
        raise ValueError(f'photo: expected a uint8 (H, W, 3) RGB or (H, W, 1)'
                         f' grey image, got {got}')
    return np.repeat(photo, 3, axis=2) if photo.shape[2] == 1 else photo


def _square_model(generator: nn.Module) -> Tuple[int, int]:
    (in_h, in_w), (out_h, out_w) = generator_shapes(generator)
    if in_h != in_w or out_h != out_w:
        raise ValueError(
            'face restoration needs a model with square inputs and outputs '
            f'(a face config), got {in_w}x{in_h} -> {out_w}x{out_h} (WxH)')
    return in_h, out_h


def _align(face: FaceDetection, side: int) -> Tuple[np.ndarray, str]:
    if face.eyes is not None:
        return eye_alignment(face.eyes, side), 'eyes'
    return box_alignment(face.box, side), 'box'


def _model_input(photo: np.ndarray, m: np.ndarray, side: int) -> np.ndarray:
    """The aligned crop at the model's input side: warped at the face's own
    resolution, then shrunk MATLAB-like (as training inputs are made)."""
    native = int(round(side / transform_scale(m)))
    if native <= side:
        return warp_crop(photo, m, side)
    crop = warp_crop(photo, compose(resize_matrix(native / side), m), native)
    return matlab_resize(crop, (side, side))


def _check_limits(crop_side: float, in_size: int, out_size: int,
                  out_scale: float, limits: FaceLimits) -> Tuple[str, str]:
    input_zoom = in_size / crop_side
    if input_zoom > limits.max_input_zoom:
        return 'too_small', (
            f'its crop ({crop_side:.0f} px) would be enlarged '
            f'{input_zoom:.2f}x to the model input ({in_size} px), more than '
            f'max_input_zoom={limits.max_input_zoom:g}')
    paste_zoom = crop_side * out_scale / out_size
    if paste_zoom > limits.max_paste_zoom:
        return 'too_large', (
            f'the restored face ({out_size} px) would be enlarged '
            f'{paste_zoom:.2f}x to cover it in the output '
            f'({crop_side * out_scale:.0f} px), more than '
            f'max_paste_zoom={limits.max_paste_zoom:g}')
    return 'restored', ''


def restore_faces(generator: nn.Module,
                  photo: np.ndarray,
                  settings: Optional[InferenceSettings] = None,
                  keep_size: bool = False,
                  limits: FaceLimits = FaceLimits(),
                  feather: float = FEATHER,
                  min_face: int = MIN_FACE_SIZE,
                  batch_size: int = 1) -> FaceRestoration:
    """Detect, align, super-resolve and paste back every face of a photo.

    Args:
        generator (nn.Module): a face model with square input and output
            (e.g. ``init_generator`` of a GLEAN FFHQ config).
        photo (ndarray): uint8 (H, W, 3) RGB (or (H, W, 1) grey) photo.
        settings (InferenceSettings, optional): see ``super_resolve``.
        keep_size (bool): paste into the photo at its size instead of into
            its bicubic enlargement by the model's scale.
        limits (FaceLimits): which faces are too small or too large.
        feather (float): the paste mask's ramp (see ``feather_mask``).
        min_face (int): smallest face box searched (see ``detect_faces``).
        batch_size (int): faces per forward pass.

    Returns:
        FaceRestoration: the photo, its background and every face found
        (none is not an error).

    Raises:
        ValueError: a bad photo, a non-square model, or an output photo
            too large (see ``upscale_photo``).
    """
    photo = _as_rgb(photo)
    in_size, out_size = _square_model(generator)
    scale = 1.0 if keep_size else out_size / in_size
    background = photo.copy() if keep_size else upscale_photo(photo, scale)
    h, w = photo.shape[:2]
    # photo -> output photo, per axis as cv2.resize maps pixel centres
    to_output = resize_matrix(background.shape[1] / w,
                              background.shape[0] / h)
    to_out_crop = resize_matrix(out_size / in_size)
    faces, inputs, matrices = [], [], []
    corners = ((-0.5, -0.5), (out_size - 0.5, -0.5),
               (out_size - 0.5, out_size - 0.5), (-0.5, out_size - 0.5))
    for detection in detect_faces(photo, min_face):
        m, how = _align(detection, in_size)
        crop_side = in_size / transform_scale(m)
        status, reason = _check_limits(crop_side, in_size, out_size, scale,
                                       limits)
        # output photo -> restored crop
        m_out = compose(to_out_crop, m, invert(to_output))
        result = FaceResult(detection, how, crop_side, status, reason,
                            transform_points(invert(m_out), corners))
        if status == 'restored':
            result.input_crop = _model_input(photo, m, in_size)
            inputs.append(result.input_crop)
            matrices.append(m_out)
        faces.append(result)
    outputs = super_resolve(generator, inputs, settings, batch_size) \
        if inputs else []
    out = background
    for result, restored, m_out in zip(
            [f for f in faces if f.status == 'restored'], outputs, matrices):
        result.restored_crop = restored
        out = paste(out, restored, m_out, feather)
    return FaceRestoration(out, background, scale, faces)
