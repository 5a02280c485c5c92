"""Build paired GT / MATLAB-bicubic LR folders and MMagic meta-info files.

The LR images of GLEAN's data sets are made with MATLAB's ``imresize``
(bicubic with anti-aliasing). OpenCV's or PIL's bicubic gives different,
aliased inputs and is the most common cause of poor GLEAN results, so this
uses MMagic's MATLAB-like resize.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.utils import ProgressBar

__all__ = ['IMAGE_EXTENSIONS', 'matlab_downsample', 'prepare_sr_folders']

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff')


def matlab_downsample(img: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-like bicubic downsampling of a uint8 (H, W, C) image.

    Args:
        img (ndarray): uint8 image, H and W divisible by ``scale``.
        scale (int): downsampling factor.

    Returns:
        ndarray: uint8 (H / scale, W / scale, C), rounded as MATLAB does.
    """
    from mmagic.datasets.transforms import MATLABLikeResize
    out = MATLABLikeResize(keys=['img'], scale=1 / scale)(
        {'img': img.astype(np.float64) / 255.})['img']
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def _list_images(gt_dir: str) -> List[str]:
    if not osp.isdir(gt_dir):
        raise FileNotFoundError(f'GT folder not found: {gt_dir!r}')
    names = sorted(n for n in os.listdir(gt_dir)
                   if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise ValueError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in '
                         f'{gt_dir!r}')
    return names


def _write_png(path: str, img: np.ndarray) -> None:
    """Write to a temporary name, then rename: no half-written files."""
    import imageio.v3 as iio
    tmp = path + '.tmp.png'
    iio.imwrite(tmp, img)
    os.replace(tmp, path)


def prepare_sr_folders(gt_dir: str,
                       out_root: str,
                       scales: Sequence[int] = (8, ),
                       meta_file: str = 'meta_info_GT.txt',
                       gt_folder: Optional[str] = 'GT',
                       overwrite: bool = False,
                       progress: bool = True) -> Dict[str, int]:
    """Write ``out_root/{GT,BIx<s>_down}/*.png`` and ``out_root/<meta_file>``.

    Args:
        gt_dir (str): folder of ground-truth images (sides divisible by
            every scale).
        out_root (str): output data root (a config's ``data_root``).
        scales (Sequence[int]): LR factors, e.g. (8, 16, 64).
        meta_file (str): meta-info file name (one image name a line).
        gt_folder (str, optional): GT copy inside ``out_root``; None to
            leave the GT where it is (then ``gt_dir`` is the data prefix).
        overwrite (bool): replace existing output files.
        progress (bool): show a progress bar.

    Returns:
        dict: number of images written per folder.

    Raises:
        FileNotFoundError, ValueError, FileExistsError: with what was
            expected and what was found; nothing is written then.
    """
    names = _list_images(gt_dir)
    folders = {f'BIx{s}_down': s for s in scales}
    if gt_folder:
        folders[gt_folder] = 1
    targets = [osp.join(out_root, f) for f in folders] + [
        osp.join(out_root, meta_file)]
    existing = [t for t in targets if osp.exists(t)]
    if existing and not overwrite:
        raise FileExistsError(
            f'output exists: {", ".join(existing)}; pass overwrite to replace')
    import imageio.v3 as iio
    for folder in folders:
        os.makedirs(osp.join(out_root, folder), exist_ok=True)
    bar = ProgressBar(len(names)) if progress else None
    stems = []
    for name in names:
        img = iio.imread(osp.join(gt_dir, name))
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        img = img[..., :3]
        bad = [s for s in scales if img.shape[0] % s or img.shape[1] % s]
        if bad:
            raise ValueError(f'{name}: size {img.shape[1]}x{img.shape[0]} is '
                             f'not divisible by scale {bad[0]}')
        stem = osp.splitext(name)[0] + '.png'
        for folder, s in folders.items():
            out = img if s == 1 else matlab_downsample(img, s)
            _write_png(osp.join(out_root, folder, stem), out)
        stems.append(stem)
        if bar:
            bar.update()
    with open(osp.join(out_root, meta_file) + '.tmp', 'w') as f:
        f.write(''.join(f'{s}\n' for s in stems))
    os.replace(osp.join(out_root, meta_file) + '.tmp',
               osp.join(out_root, meta_file))
    return {folder: len(stems) for folder in folders}
