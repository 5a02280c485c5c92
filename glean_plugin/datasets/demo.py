"""A small paired SR data set built from photographs scikit-image ships.

Training crops come from one set of images, validation crops from others
(held out), so the demo measures generalisation, not memorisation. LR images
are made with MATLAB-like bicubic downsampling (MMagic's implementation), as
GLEAN's data sets are.
"""
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, Sequence

import numpy as np

from .prepare import matlab_downsample

__all__ = ['DEMO_TRAIN_IMAGES', 'DEMO_VAL_IMAGES', 'build_demo_dataset']

# Colour photographs and grey textures (replicated to RGB) shipped inside
# scikit-image's wheel; none needs a download.
DEMO_TRAIN_IMAGES = ('astronaut', 'rocket', 'hubble_deep_field',
                     'immunohistochemistry', 'retina', 'colorwheel', 'camera',
                     'brick', 'grass', 'gravel', 'moon', 'clock', 'coins')
DEMO_VAL_IMAGES = ('chelsea', 'coffee')
# Photos are first resized so their short side is this long, so a crop shows
# object-level structure rather than a flat patch of a large image.
SHORT_SIDE = 256
META_FILE = 'meta_info_GT.txt'


def _load(name: str) -> np.ndarray:
    import skimage.data
    import skimage.transform
    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    scale = SHORT_SIDE / min(img.shape[:2])
    out = skimage.transform.rescale(img, scale, order=3, channel_axis=2,
                                    anti_aliasing=scale < 1)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def _write_split(root: str, names: Sequence[str], crops_per_image: int,
                 gt_size: int, scales: Sequence[int],
                 rng: np.random.Generator) -> int:
    import imageio.v3 as iio
    os.makedirs(osp.join(root, 'GT'))
    for s in scales:
        os.makedirs(osp.join(root, f'BIx{s}_down'))
    files = []
    for name in names:
        img = _load(name)
        h, w = img.shape[:2]
        for i in range(crops_per_image):
            y = int(rng.integers(0, h - gt_size + 1))
            x = int(rng.integers(0, w - gt_size + 1))
            gt = img[y:y + gt_size, x:x + gt_size]
            if rng.random() < 0.5:
                gt = gt[:, ::-1]
            gt = np.ascontiguousarray(gt)
            fname = f'{name}_{i:03d}.png'
            iio.imwrite(osp.join(root, 'GT', fname), gt)
            for s in scales:
                iio.imwrite(osp.join(root, f'BIx{s}_down', fname),
                            matlab_downsample(gt, s))
            files.append(fname)
    with open(osp.join(root, META_FILE), 'w') as f:
        f.write(''.join(f'{fname}\n' for fname in files))
    return len(files)


def build_demo_dataset(root: str,
                       gt_size: int = 64,
                       scales: Sequence[int] = (4, 8),
                       train_crops: int = 48,
                       val_crops: int = 8,
                       seed: int = 0,
                       overwrite: bool = False) -> Dict[str, int]:
    """Write ``root/{train,val}/{GT,BIx<s>_down}`` and meta-info files.

    Args:
        root (str): output folder; must not exist unless ``overwrite``.
        gt_size (int): side of the square GT crops.
        scales (Sequence[int]): downsampling factors of the LR folders.
        train_crops (int): crops per training image.
        val_crops (int): crops per held-out image.
        seed (int): crop positions and flips.
        overwrite (bool): replace an existing ``root``.

    Returns:
        dict: number of images written per split.

    Raises:
        FileExistsError: ``root`` exists and ``overwrite`` is False.
        ValueError: ``gt_size`` not divisible by a scale.
    """
    for s in scales:
        if gt_size % s:
            raise ValueError(f'gt_size {gt_size} is not divisible by scale {s}')
    if osp.exists(root) and not overwrite:
        raise FileExistsError(f'{root} exists; pass overwrite=True to replace '
                              'it')
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.demo_data_', dir=parent)
    try:
        rng = np.random.default_rng(seed)
        counts = {
            'train': _write_split(osp.join(tmp, 'train'), DEMO_TRAIN_IMAGES,
                                  train_crops, gt_size, scales, rng),
            'val': _write_split(osp.join(tmp, 'val'), DEMO_VAL_IMAGES,
                                val_crops, gt_size, scales, rng),
        }
        if osp.exists(root):
            shutil.rmtree(root)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts
