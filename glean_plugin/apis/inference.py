"""Super-resolution and retouching of in-memory images (no ground truth)."""
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..datasets.prepare import matlab_downsample
from .generator import InferenceSettings

__all__ = ['InputResizedWarning', 'InputSizeError', 'fit_input_size',
           'generator_sizes', 'matlab_resize', 'retouch', 'retouch_input',
           'super_resolve']

# uint8 image range
MAX_VALUE = 255


class InputSizeError(ValueError):
    """An image does not have the size the model takes."""


class InputResizedWarning(UserWarning):
    """An input was resized to the size the model takes."""


def _check_image(img, name: str) -> None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        got = (f'ndarray of {img.dtype}' if isinstance(img, np.ndarray) else
               type(img).__name__)
        raise TypeError(f'{name}: expected a uint8 ndarray, got {got}')
    if img.ndim != 3:
        raise ValueError(f'{name}: expected an (H, W, C) image, got shape '
                         f'{img.shape}')


def _size(img: np.ndarray) -> str:
    return f'{img.shape[1]}x{img.shape[0]}'


def matlab_resize(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """MATLAB-like bicubic resize (anti-aliased when shrinking) to a size.

    Uses MMagic's ``MATLABLikeResize`` with per-axis sizes; each axis has its
    own factor, so non-square inputs may change aspect ratio.

    Args:
        img (ndarray): uint8 (H, W, C).
        size (tuple[int, int]): output (height, width).

    Returns:
        ndarray: uint8 (height, width, C), rounded as MATLAB does.
    """
    from mmagic.datasets.transforms import MATLABLikeResize
    _check_image(img, 'image')
    out = MATLABLikeResize(keys=['img'], output_shape=tuple(size))(
        {'img': img.astype(np.float64) / MAX_VALUE})['img']
    out = np.clip(np.round(out * MAX_VALUE), 0, MAX_VALUE).astype(np.uint8)
    return out.reshape(size[0], size[1], img.shape[2])


def fit_input_size(img: np.ndarray,
                   in_size: int,
                   resize: bool = False,
                   name: str = 'image') -> np.ndarray:
    """Check that an image is in_size x in_size; resize it if allowed.

    Args:
        img (ndarray): uint8 (H, W, C).
        in_size (int): the generator's (square) input size.
        resize (bool): resize a differently sized image MATLAB-like to
            in_size x in_size (each axis on its own: a non-square image is
            stretched, nothing is cropped), with an ``InputResizedWarning``.
        name (str): the image's name for messages.

    Returns:
        ndarray: uint8 (in_size, in_size, C).

    Raises:
        InputSizeError: the size differs and ``resize`` is False.
    """
    _check_image(img, name)
    if img.shape[:2] == (in_size, in_size):
        return img
    expected = f'{in_size}x{in_size}'
    if not resize:
        raise InputSizeError(f'{name}: the model takes {expected} (WxH) '
                             f'inputs, got {_size(img)}')
    note = ('' if img.shape[0] == img.shape[1] else
            ' (not square: stretched, aspect ratio not kept)')
    warnings.warn(f'{name}: resized MATLAB-like from {_size(img)} to '
                  f'{expected}{note}', InputResizedWarning, stacklevel=2)
    return matlab_resize(img, (in_size, in_size))


def generator_sizes(generator: nn.Module) -> Tuple[int, int]:
    """The generator's (in_size, out_size), square sides in pixels."""
    sizes = getattr(generator, 'in_size', None), getattr(
        generator, 'out_size', None)
    if None in sizes:
        raise TypeError('generator must have in_size and out_size attributes '
                        f'(as GLEANNet), got a {type(generator).__name__}')
    return sizes


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
        images (Sequence[ndarray]): uint8 (in_size, in_size, C) RGB images.
        settings (InferenceSettings, optional): default: mean = std = 127.5,
            RGB (the GLEAN configs').
        batch_size (int): images per forward pass.

    Returns:
        list[ndarray]: uint8 (out_size, out_size, C) RGB images, in order.

    Raises:
        TypeError: an image is not a uint8 array.
        InputSizeError: an image is not in_size x in_size.
        ValueError: ``batch_size`` is not a positive int.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            f'batch_size must be a positive int, got {batch_size!r}')
    settings = settings or InferenceSettings()
    in_size, _ = generator_sizes(generator)
    for i, img in enumerate(images):
        fit_input_size(img, in_size, resize=False, name=f'images[{i}]')
    param = next(generator.parameters())
    shape = (1, -1, 1, 1)
    mean = torch.tensor(settings.mean, dtype=param.dtype,
                        device=param.device).view(shape)
    std = torch.tensor(settings.std, dtype=param.dtype,
                       device=param.device).view(shape)
    flip = settings.channel_order == 'bgr'
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = np.stack(images[start:start + batch_size])
        if flip:
            batch = batch[..., ::-1]
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(param.device)
        x = x.permute(0, 3, 1, 2).to(param.dtype)
        with torch.inference_mode():
            y = generator((x - mean) / std) * std + mean
        y = y.clamp(0, MAX_VALUE).round().to(torch.uint8)
        y = y.permute(0, 2, 3, 1).cpu().numpy()
        if flip:
            y = y[..., ::-1]
        outputs.extend(np.ascontiguousarray(im) for im in y)
    return outputs


def retouch_input(edited: np.ndarray,
                  in_size: int,
                  resize: bool = False,
                  name: str = 'edited image') -> np.ndarray:
    """The LR input of retouching: an edited HR image downsampled MATLAB-like.

    The edited image must be square with a side that is a multiple of
    ``in_size`` (typically the model's out_size): it is then downsampled by
    that integer factor exactly as training LR images are made
    (``matlab_downsample``).

    Args:
        edited (ndarray): uint8 (H, W, C) edited image.
        in_size (int): the generator's input size.
        resize (bool): resize other sizes MATLAB-like to in_size x in_size
            (per axis; see ``fit_input_size``), with a warning.
        name (str): the image's name for messages.

    Returns:
        ndarray: uint8 (in_size, in_size, C).

    Raises:
        InputSizeError: the size is not k * in_size square and ``resize``
            is False.
    """
    _check_image(edited, name)
    h, w = edited.shape[:2]
    if h == w and h % in_size == 0:
        factor = h // in_size
        return edited if factor == 1 else matlab_downsample(edited, factor)
    if not resize:
        raise InputSizeError(
            f'{name}: retouching takes a square image whose side is a '
            f'multiple of the model\'s in_size {in_size} (such as its '
            f'out_size), got {_size(edited)} (WxH)')
    return fit_input_size(edited, in_size, resize=True, name=name)


def retouch(generator: nn.Module,
            edited: np.ndarray,
            settings: Optional[InferenceSettings] = None,
            resize: bool = False,
            name: str = 'edited image') -> Tuple[np.ndarray, np.ndarray]:
    """Make an edited image natural again: downsample it, super-resolve it.

    This is GLEAN's retouching application: the edit (e.g. paint on a cat's
    face) survives in the LR image only as coarse colour, and the latent
    bank turns it into plausible detail.

    Args:
        generator (nn.Module): e.g. from ``init_generator``.
        edited (ndarray): uint8 (H, W, C) RGB edited image; see
            ``retouch_input`` for the sizes taken.
        settings (InferenceSettings, optional): see ``super_resolve``.
        resize (bool): see ``retouch_input``.
        name (str): the image's name for messages.

    Returns:
        tuple[ndarray, ndarray]: the output, uint8 (out_size, out_size, C),
        and the LR input it was made from, uint8 (in_size, in_size, C).
    """
    in_size, _ = generator_sizes(generator)
    lr = retouch_input(edited, in_size, resize, name)
    return super_resolve(generator, [lr], settings)[0], lr
