"""Super-resolution and retouching of in-memory images (no ground truth).

Shapes are (height, width) in code and ``WxH`` in messages (``64x48 (WxH)``
is the 48x64 input of the LSUN car models). A generator's input and output
shapes come from its ``input_shape``/``output_shape`` (GLEANNet, rectangular
ones included), else from its square ``in_size``/``out_size``.
"""
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

from ..image import (MAX_VALUE, check_image, images_to_tensor,
                     matlab_downsample, matlab_resize, tensor_to_images)
from .generator import InferenceSettings

__all__ = ['DEFAULT_RESIZE_MODE', 'RESIZE_MODES', 'InputResizedWarning',
           'InputSizeError', 'check_resize_mode', 'fit_input_shape',
           'format_shape', 'generator_shapes', 'letterbox_value',
           'matlab_resize', 'retouch', 'retouch_input', 'super_resolve']

# How an image of another aspect ratio than the model's input is fitted:
# 'pad' letterboxes (resize to fit inside, pad with the model's pad value),
# 'crop' takes the centred window of the model's aspect ratio, then resizes.
RESIZE_MODES = ('pad', 'crop')
# Letterboxing keeps the whole picture (as GLEANNet's own padding of
# rectangular inputs does); cropping loses its edges.
DEFAULT_RESIZE_MODE = 'pad'
# The padding of models without ``pad_value``: black.
BLACK_PIXEL = (0, )
Shape = Tuple[int, int]


class InputSizeError(ValueError):
    """An image does not have the size the model takes."""


class InputResizedWarning(UserWarning):
    """An input was resized to the size the model takes."""


def format_shape(shape: Sequence[int]) -> str:
    """``'WxH'`` of an (H, W, ...) shape, e.g. (48, 64) -> '64x48'."""
    return f'{shape[1]}x{shape[0]}'


def _as_shape(shape: Union[int, Sequence[int]], what: str) -> Shape:
    """(height, width) of a side (square) or a (height, width) pair."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape, shape)
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2 or any(
            isinstance(s, bool) or not isinstance(s, (int, np.integer))
            or s < 1 for s in shape)):
        raise ValueError(f'{what} must be a positive int or (height, width) '
                         f'of positive ints, got {shape!r}')
    return int(shape[0]), int(shape[1])


def check_resize_mode(resize_mode: str) -> None:
    """Raise ValueError unless ``resize_mode`` is one of ``RESIZE_MODES``."""
    if resize_mode not in RESIZE_MODES:
        raise ValueError(f'resize_mode must be one of {RESIZE_MODES}, got '
                         f'{resize_mode!r}')


def _fill_pixel(fill: Sequence[int], channels: int) -> np.ndarray:
    """``fill`` as a uint8 (C, ) pixel; one value is used for every channel."""
    values = tuple(fill)
    if len(values) == 1:
        values *= channels
    if len(values) != channels or any(not 0 <= v <= MAX_VALUE
                                      for v in values):
        raise ValueError(f'fill must be 1 or {channels} values in [0, '
                         f'{MAX_VALUE}], got {tuple(fill)}')
    return np.asarray(values, dtype=np.uint8)


def _letterbox(img: np.ndarray, shape: Shape,
               fill: Sequence[int]) -> Tuple[np.ndarray, str]:
    """Resize to fit inside ``shape`` keeping the aspect, pad centred."""
    (h, w), (out_h, out_w) = img.shape[:2], shape
    factor = min(out_h / h, out_w / w)
    inner = (min(out_h, max(1, round(h * factor))),
             min(out_w, max(1, round(w * factor))))
    resized = img if inner == (h, w) else matlab_resize(img, inner)
    pixel = _fill_pixel(fill, img.shape[2])
    out = np.empty((out_h, out_w, img.shape[2]), np.uint8)
    out[...] = pixel
    top, left = (out_h - inner[0]) // 2, (out_w - inner[1]) // 2
    out[top:top + inner[0], left:left + inner[1]] = resized
    if inner == shape:
        return out, (f'resized MATLAB-like from {format_shape(img.shape)} '
                     f'to {format_shape(shape)} (WxH)')
    return out, (f'resized MATLAB-like from {format_shape(img.shape)} to '
                 f'{format_shape(inner)} (aspect ratio kept) and padded to '
                 f'{format_shape(shape)} (WxH) with pixel value '
                 f'{tuple(int(v) for v in pixel)}')


def _centre_crop(img: np.ndarray, shape: Shape) -> Tuple[np.ndarray, str]:
    """Crop the centred window of ``shape``'s aspect ratio, resize it."""
    (h, w), (out_h, out_w) = img.shape[:2], shape
    if h * out_w > w * out_h:  # taller than the model's input: crop rows
        crop = (max(1, round(w * out_h / out_w)), w)
    else:
        crop = (h, max(1, round(h * out_w / out_h)))
    top, left = (h - crop[0]) // 2, (w - crop[1]) // 2
    window = img[top:top + crop[0], left:left + crop[1]]
    out = window if crop == shape else matlab_resize(window, shape)
    if crop == (h, w):
        return out, (f'resized MATLAB-like from {format_shape(img.shape)} to '
                     f'{format_shape(shape)} (WxH)')
    what = ('' if crop == shape else
            f', then resized MATLAB-like to {format_shape(shape)}')
    return out, (f'centre-cropped from {format_shape(img.shape)} to '
                 f"{format_shape(crop)} (the model's aspect ratio){what} "
                 '(WxH)')


def fit_input_shape(img: np.ndarray,
                    shape: Union[int, Tuple[int, int]],
                    resize: bool = False,
                    name: str = 'image',
                    resize_mode: str = DEFAULT_RESIZE_MODE,
                    fill: Sequence[int] = BLACK_PIXEL) -> np.ndarray:
    """Check that an image has the model's input shape; fit it if allowed.

    Args:
        img (ndarray): uint8 (H, W, C).
        shape (int | tuple[int, int]): the generator's input (height,
            width); an int is a square side.
        resize (bool): fit an image of another shape, with an
            ``InputResizedWarning`` saying how. Its aspect ratio is kept
            (``resize_mode``); an image of the model's aspect ratio is just
            resized MATLAB-like.
        name (str): the image's name for messages.
        resize_mode (str): one of ``RESIZE_MODES``. 'pad' (default):
            resize MATLAB-like to fit inside ``shape``, then pad centred
            with ``fill`` (letterbox). 'crop': cut the centred window of
            ``shape``'s aspect ratio, then resize it MATLAB-like.
        fill (Sequence[int]): the padding's uint8 pixel value, 1 or C
            values (see ``letterbox_value``). Default: black.

    Returns:
        ndarray: uint8 (height, width, C); ``img`` itself if it fits.

    Raises:
        InputSizeError: the shape differs and ``resize`` is False.
        ValueError: a bad ``shape``, ``resize_mode`` or ``fill``.
    """
    check_image(img, name)
    check_resize_mode(resize_mode)
    shape = _as_shape(shape, 'shape')
    if img.shape[:2] == shape:
        return img
    if not resize:
        raise InputSizeError(f'{name}: the model takes {format_shape(shape)} '
                             f'(WxH) inputs, got {format_shape(img.shape)}')
    if resize_mode == 'pad':
        out, how = _letterbox(img, shape, fill)
    else:
        out, how = _centre_crop(img, shape)
    warnings.warn(f'{name}: {how}', InputResizedWarning, stacklevel=2)
    return out


def generator_shapes(generator: nn.Module) -> Tuple[Shape, Shape]:
    """The generator's input and output (height, width).

    Args:
        generator (nn.Module): with ``input_shape`` and ``output_shape``
            (GLEANNet), or with square ``in_size`` and ``out_size`` (e.g.
            MMagic's GLEANStyleGANv2).

    Returns:
        tuple[tuple[int, int], tuple[int, int]]: ((in_h, in_w),
        (out_h, out_w)).

    Raises:
        TypeError: the generator has neither pair.
    """
    shapes = (getattr(generator, 'input_shape', None),
              getattr(generator, 'output_shape', None))
    if None in shapes:
        sizes = (getattr(generator, 'in_size', None),
                 getattr(generator, 'out_size', None))
        if None in sizes:
            raise TypeError(
                'generator must have input_shape and output_shape, or '
                'in_size and out_size attributes (as GLEANNet), got a '
                f'{type(generator).__name__}')
        shapes = tuple((s, s) for s in sizes)
    return tuple(_as_shape(s, 'the generator\'s shape') for s in shapes)


def letterbox_value(generator: nn.Module,
                    settings: Optional[InferenceSettings] = None
                    ) -> Tuple[int, ...]:
    """The uint8 RGB pixel that becomes the generator's padding value.

    GLEANNet pads rectangular inputs with ``pad_value`` in its normalised
    input space; an input letterboxed with this pixel (``fit_input_shape``)
    is padded the same way: ``pad_value * std + mean``, rounded, in RGB.

    Args:
        generator (nn.Module): with ``pad_value``; other generators get
            black.
        settings (InferenceSettings, optional): the config's normalisation
            (default: mean = std = 127.5, RGB).

    Returns:
        tuple[int, ...]: one value per channel, in [0, 255].
    """
    settings = settings or InferenceSettings()
    pad_value = getattr(generator, 'pad_value', None)
    if pad_value is None:
        return BLACK_PIXEL * len(settings.mean)
    values = [pad_value * s + m for m, s in zip(settings.mean, settings.std)]
    if settings.channel_order == 'bgr':
        values = values[::-1]
    return tuple(int(np.clip(np.round(v), 0, MAX_VALUE)) for v in values)


def super_resolve(generator: nn.Module,
                  images: Sequence[np.ndarray],
                  settings: Optional[InferenceSettings] = None,
                  batch_size: int = 1) -> List[np.ndarray]:
    """Run the generator on uint8 RGB images.

    Images are normalised with ``settings.mean``/``std`` and put into
    ``settings.channel_order`` as in training; outputs come back as RGB.

    Args:
        generator (nn.Module): e.g. from ``init_generator``; runs on the
            device of its parameters.
        images (Sequence[ndarray]): uint8 (in_h, in_w, C) RGB images, the
            generator's input shape (see ``generator_shapes``).
        settings (InferenceSettings, optional): default: mean = std = 127.5,
            RGB (the GLEAN configs').
        batch_size (int): images per forward pass.

    Returns:
        list[ndarray]: uint8 (out_h, out_w, C) RGB images, in order.

    Raises:
        TypeError: an image is not a uint8 array.
        InputSizeError: an image does not have the input shape.
        ValueError: ``batch_size`` is not a positive int.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f'batch_size must be a positive int, got {batch_size!r}')
    settings = settings or InferenceSettings()
    in_shape, _ = generator_shapes(generator)
    for i, img in enumerate(images):
        fit_input_shape(img, in_shape, resize=False, name=f'images[{i}]')
    param = next(generator.parameters())
    norm = dict(mean=settings.mean, std=settings.std,
                channel_order=settings.channel_order)
    outputs = []
    for start in range(0, len(images), batch_size):
        x = images_to_tensor(images[start:start + batch_size], **norm,
                             dtype=param.dtype, device=param.device)
        with torch.inference_mode():
            y = generator(x)
        outputs.extend(tensor_to_images(y, **norm))
    return outputs


def retouch_input(edited: np.ndarray,
                  in_shape: Union[int, Tuple[int, int]],
                  resize: bool = False,
                  name: str = 'edited image',
                  resize_mode: str = DEFAULT_RESIZE_MODE,
                  fill: Sequence[int] = BLACK_PIXEL) -> np.ndarray:
    """The LR input of retouching: an edited HR image downsampled MATLAB-like.

    The edited image must be k times the model's input shape for an integer
    k (e.g. its output shape: 384x512 for a 48x64 car model): it is then
    downsampled by k exactly as training LR images are made
    (``matlab_downsample``).

    Args:
        edited (ndarray): uint8 (H, W, C) edited image.
        in_shape (int | tuple[int, int]): the generator's input (height,
            width); an int is a square side.
        resize (bool): fit other shapes to ``in_shape`` keeping their
            aspect ratio (see ``fit_input_shape``), with a warning.
        name (str): the image's name for messages.
        resize_mode (str): see ``fit_input_shape``.
        fill (Sequence[int]): see ``fit_input_shape``.

    Returns:
        ndarray: uint8 (in_h, in_w, C).

    Raises:
        InputSizeError: the shape is not k * ``in_shape`` and ``resize`` is
            False.
        ValueError: a bad ``in_shape``, ``resize_mode`` or ``fill``.
    """
    check_image(edited, name)
    check_resize_mode(resize_mode)
    in_h, in_w = in_shape = _as_shape(in_shape, 'in_shape')
    h, w = edited.shape[:2]
    if h % in_h == 0 and w % in_w == 0 and h // in_h == w // in_w:
        factor = h // in_h
        return edited if factor == 1 else matlab_downsample(edited, factor)
    if not resize:
        raise InputSizeError(
            f'{name}: retouching takes an image of k times the model\'s '
            f'input shape {format_shape(in_shape)} (WxH) for an integer k '
            f'(such as its output shape), got {format_shape(edited.shape)}')
    return fit_input_shape(edited, in_shape, True, name, resize_mode, fill)


def retouch(generator: nn.Module,
            edited: np.ndarray,
            settings: Optional[InferenceSettings] = None,
            resize: bool = False,
            name: str = 'edited image',
            resize_mode: str = DEFAULT_RESIZE_MODE
            ) -> Tuple[np.ndarray, np.ndarray]:
    """Make an edited image natural again: downsample it, super-resolve it.

    This is GLEAN's retouching application: the edit (e.g. paint on a cat's
    face) survives in the LR image only as coarse colour, and the latent
    bank turns it into plausible detail.

    Args:
        generator (nn.Module): e.g. from ``init_generator``.
        edited (ndarray): uint8 (H, W, C) RGB edited image; see
            ``retouch_input`` for the shapes taken.
        settings (InferenceSettings, optional): see ``super_resolve``.
        resize (bool): see ``retouch_input``.
        name (str): the image's name for messages.
        resize_mode (str): see ``fit_input_shape``; 'pad' pads with the
            generator's padding (``letterbox_value``).

    Returns:
        tuple[ndarray, ndarray]: the output, uint8 (out_h, out_w, C), and
        the LR input it was made from, uint8 (in_h, in_w, C).
    """
    in_shape, _ = generator_shapes(generator)
    lr = retouch_input(edited, in_shape, resize, name, resize_mode,
                       letterbox_value(generator, settings))
    return super_resolve(generator, [lr], settings)[0], lr
