"""Image helpers every part of the package shares (one home each, as
BasicSR's ``img_util``/``matlab_functions``): MATLAB-like resizing, the
uint8 image <-> normalised tensor pair, and PNG writing.

Images are uint8 numpy arrays (H, W, C) in RGB; shapes are (height, width).
"""
from typing import List, Sequence, Tuple

import numpy as np
import torch

from .fileio import atomic_open

__all__ = ['MAX_VALUE', 'check_image', 'images_to_tensor', 'matlab_downsample',
           'matlab_resize', 'tensor_to_images', 'to_uint8',
           'write_png_atomic']

# uint8 image range
MAX_VALUE = 255
PNG_EXTENSION = '.png'
# Broadcast shape of per-channel mean/std against (N, C, H, W).
_CHANNEL_VIEW = (1, -1, 1, 1)


def check_image(img, name: str) -> None:
    """Raise unless ``img`` is a uint8 (H, W, C) ndarray (TypeError for
    another type or dtype, ValueError for another number of dims)."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        got = (f'ndarray of {img.dtype}' if isinstance(img, np.ndarray) else
               type(img).__name__)
        raise TypeError(f'{name}: expected a uint8 ndarray, got {got}')
    if img.ndim != 3:
        raise ValueError(f'{name}: expected an (H, W, C) image, got shape '
                         f'{img.shape}')


def to_uint8(img: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] -> uint8, rounded and clipped."""
    return np.clip(np.round(img * MAX_VALUE), 0, MAX_VALUE).astype(np.uint8)


def _matlab_like(img: np.ndarray, **resize) -> np.ndarray:
    """MMagic's ``MATLABLikeResize`` of a uint8 (H, W, C) image."""
    from mmagic.datasets.transforms import MATLABLikeResize
    check_image(img, 'image')
    out = MATLABLikeResize(keys=['img'], **resize)(
        {'img': img.astype(np.float64) / MAX_VALUE})['img']
    return to_uint8(out).reshape(out.shape[0], out.shape[1], img.shape[2])


def matlab_resize(img: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """MATLAB-like bicubic resize (anti-aliased when shrinking) to a shape.

    MMagic's ``MATLABLikeResize`` with per-axis sizes: each axis has its own
    factor, so the aspect ratio changes if ``shape`` asks so
    (``apis.fit_input_shape`` keeps it).

    Args:
        img (ndarray): uint8 (H, W, C).
        shape (tuple[int, int]): output (height, width).

    Returns:
        ndarray: uint8 (height, width, C), rounded as MATLAB does.

    Raises:
        TypeError, ValueError: ``img`` is not a uint8 (H, W, C) array.
    """
    return _matlab_like(img, output_shape=tuple(shape))


def matlab_downsample(img: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-like bicubic downsampling by an integer factor, as GLEAN's LR
    images are made.

    Args:
        img (ndarray): uint8 (H, W, C), H and W divisible by ``scale``.
        scale (int): downsampling factor.

    Returns:
        ndarray: uint8 (H / scale, W / scale, C), rounded as MATLAB does.
    """
    return _matlab_like(img, scale=1 / scale)


def images_to_tensor(images: Sequence[np.ndarray],
                     mean: Sequence[float],
                     std: Sequence[float],
                     channel_order: str = 'rgb',
                     dtype: torch.dtype = torch.float32,
                     device='cpu') -> torch.Tensor:
    """uint8 RGB images -> a normalised batch in the model's channel order,
    as MMagic's data preprocessor makes it: ``(x - mean) / std``.

    Args:
        images (Sequence[ndarray]): uint8 (H, W, C) RGB images of one shape.
        mean (Sequence[float]): per-channel mean of the [0, 255] input.
        std (Sequence[float]): per-channel std.
        channel_order (str): 'rgb' or 'bgr', the model's.
        dtype (torch.dtype): of the result.
        device (str | torch.device): of the result.

    Returns:
        Tensor: (N, C, H, W).
    """
    batch = np.stack(images)
    if channel_order == 'bgr':
        batch = batch[..., ::-1]
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(device)
    x = x.permute(0, 3, 1, 2).to(dtype)
    return (x - _channels(mean, x)) / _channels(std, x)


def tensor_to_images(y: torch.Tensor,
                     mean: Sequence[float],
                     std: Sequence[float],
                     channel_order: str = 'rgb') -> List[np.ndarray]:
    """A normalised model output -> uint8 RGB images (the inverse of
    ``images_to_tensor``: ``y * std + mean``, rounded and clipped).

    Args:
        y (Tensor): (N, C, H, W) in the model's channel order.
        mean, std, channel_order: as given to ``images_to_tensor``.

    Returns:
        list[ndarray]: N uint8 (H, W, C) RGB images.
    """
    y = (y * _channels(std, y) + _channels(mean, y))
    y = y.clamp(0, MAX_VALUE).round().to(torch.uint8)
    y = y.permute(0, 2, 3, 1).cpu().numpy()
    if channel_order == 'bgr':
        y = y[..., ::-1]
    return [np.ascontiguousarray(img) for img in y]


def _channels(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype,
                        device=like.device).view(_CHANNEL_VIEW)


def write_png_atomic(path: str, img: np.ndarray) -> None:
    """Write a uint8 (H, W), (H, W, 1) or (H, W, 3) image as PNG through
    ``fileio.atomic_open``: readers never see a half-written file, and the
    file gets the user's normal mode (umask)."""
    import imageio.v3 as iio
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    data = iio.imwrite('<bytes>', img, extension=PNG_EXTENSION)
    with atomic_open(path, 'wb') as f:
        f.write(data)
