"""Paired LR/GT data of one scale, as ``tools/prepare_data.py`` writes it:
``GT/`` and ``BIx<scale>_down/``, named by a meta-info file."""
import glob
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..apis.files import read_image
from ..checkpoint import format_key_list
from ..datasets.prepare import IMAGE_EXTENSIONS

__all__ = ['GT_FOLDER', 'PairedData', 'load_paired_data']

GT_FOLDER = 'GT'
LR_FOLDER_PATTERN = re.compile(r'^BIx(\d+)_down$')
META_GLOB = 'meta_info*.txt'


@dataclass(frozen=True)
class PairedData:
    """LR/GT image pairs of one scale, uint8 RGB.

    Args:
        root (str): the data folder.
        scale (int): GT side / LR side.
        lr_folder (str): the LR folder inside ``root``, ``BIx<scale>_down``.
        meta_file (str, optional): the meta-info file the names came from;
            None when every image of ``GT/`` was taken.
        names (tuple[str]): image file names (in ``GT/``).
        lrs (tuple[ndarray]): uint8 (h, w, 3) LR images.
        gts (tuple[ndarray]): uint8 (h * scale, w * scale, 3) GT images.
    """

    root: str
    scale: int
    lr_folder: str
    meta_file: Optional[str]
    names: Tuple[str, ...]
    lrs: Tuple[np.ndarray, ...]
    gts: Tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.names)

    def summary(self) -> dict:
        """JSON-ready description (no pixels)."""
        sizes = sorted({f'{g.shape[1]}x{g.shape[0]}' for g in self.gts})
        return dict(root=self.root, scale=self.scale,
                    lr_folder=self.lr_folder, meta_file=self.meta_file,
                    num_images=len(self), gt_sizes=sizes)


def _lr_folders(root: str) -> Dict[int, str]:
    """``{scale: 'BIx<scale>_down'}`` of the LR folders in ``root``."""
    folders = {}
    for name in sorted(os.listdir(root)):
        match = LR_FOLDER_PATTERN.match(name)
        if match and osp.isdir(osp.join(root, name)):
            folders[int(match.group(1))] = name
    return folders


def _read_meta_file(path: str) -> List[str]:
    """Image names of a meta-info file: the first field of each line."""
    with open(path) as f:
        names = [line.split()[0] for line in f if line.strip()]
    if not names:
        raise ValueError(f'meta-info file {path!r} names no image')
    return names


def _image_names(root: str, gt_dir: str,
                 meta_file: Optional[str]) -> Tuple[List[str], Optional[str]]:
    """The names to benchmark and the meta-info file they came from."""
    if meta_file is None:
        found = sorted(glob.glob(osp.join(root, META_GLOB)))
        if len(found) > 1:
            raise ValueError(
                f'{root!r} holds several meta-info files '
                f'({", ".join(osp.basename(p) for p in found)}): name the '
                'one to use (meta_file / --meta-file)')
        meta_file = found[0] if found else None
    elif not osp.isabs(meta_file) and not osp.isfile(meta_file):
        meta_file = osp.join(root, meta_file)
    if meta_file is not None:
        if not osp.isfile(meta_file):
            raise FileNotFoundError(f'meta-info file not found: {meta_file!r}')
        return _read_meta_file(meta_file), meta_file
    names = sorted(n for n in os.listdir(gt_dir)
                   if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise ValueError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in '
                         f'{gt_dir!r}')
    return names, None


def _lr_path(lr_dir: str, name: str) -> Optional[str]:
    """The LR file of GT ``name``: the same name, else the same stem .png."""
    for candidate in (name, osp.splitext(name)[0] + '.png'):
        path = osp.join(lr_dir, candidate)
        if osp.isfile(path):
            return path
    return None


def load_paired_data(root: str,
                     scale: Optional[int] = None,
                     meta_file: Optional[str] = None,
                     max_images: Optional[int] = None) -> PairedData:
    """Read the LR/GT pairs of a data folder.

    The folder must hold ``GT/`` and ``BIx<scale>_down/`` (LR images named as
    their GT, or with the same stem and .png). The images are those of a
    meta-info file (first field of each line, as MMagic's
    ``BasicImageDataset`` reads it): ``meta_file``, else the folder's only
    ``meta_info*.txt``, else every image in ``GT/`` (sorted).

    Args:
        root (str): the data folder.
        scale (int, optional): which ``BIx<scale>_down`` to read; may be
            None when the folder has exactly one LR folder.
        meta_file (str, optional): meta-info file (a path, or a name inside
            ``root``).
        max_images (int, optional): take only the first N images.

    Returns:
        PairedData: the pairs, in meta-info (or sorted) order.

    Raises:
        FileNotFoundError: no such folder, no ``GT/`` or LR folder, a missing
            meta-info file or LR image.
        ValueError: several LR folders and no ``scale``, several meta-info
            files and no ``meta_file``, a GT image whose size is not
            ``scale`` times its LR image's, or a bad ``max_images``.
    """
    if max_images is not None and (not isinstance(max_images, int)
                                   or max_images < 1):
        raise ValueError(f'max_images must be a positive int, got '
                         f'{max_images!r}')
    if not osp.isdir(root):
        raise FileNotFoundError(f'data folder not found: {root!r}')
    gt_dir = osp.join(root, GT_FOLDER)
    layout = (f'expected {GT_FOLDER}/ and BIx<scale>_down/ folders in it, '
              'the layout tools/prepare_data.py writes')
    if not osp.isdir(gt_dir):
        raise FileNotFoundError(f'{root!r} has no {GT_FOLDER}/ folder: '
                                f'{layout}')
    folders = _lr_folders(root)
    if scale is None:
        if len(folders) != 1:
            found = ', '.join(folders.values()) or 'none'
            raise ValueError(f'{root!r} holds {len(folders)} LR folders '
                             f'({found}): give the scale (--scale)')
        scale = next(iter(folders))
    elif scale not in folders:
        found = ', '.join(folders.values()) or 'none'
        raise FileNotFoundError(f'{root!r} has no BIx{scale}_down/ folder '
                                f'(LR folders there: {found}); {layout}')
    lr_dir = osp.join(root, folders[scale])
    names, meta_path = _image_names(root, gt_dir, meta_file)
    names = names[:max_images]
    lr_paths = [_lr_path(lr_dir, n) for n in names]
    missing = [n for n, p in zip(names, lr_paths) if p is None]
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} image(s) have no LR image in {lr_dir!r}: '
            f'{format_key_list(missing)}')
    lrs, gts, wrong = [], [], []
    for name, lr_path in zip(names, lr_paths):
        lr = read_image(lr_path)
        gt = read_image(osp.join(gt_dir, name))
        if gt.shape != (lr.shape[0] * scale, lr.shape[1] * scale,
                        lr.shape[2]):
            wrong.append(f'{name} (GT {gt.shape[1]}x{gt.shape[0]}, LR '
                         f'{lr.shape[1]}x{lr.shape[0]})')
        lrs.append(lr)
        gts.append(gt)
    if wrong:
        raise ValueError(f'{len(wrong)} GT image(s) are not x{scale} their LR '
                         f'image: {format_key_list(wrong)}')
    return PairedData(root, scale, folders[scale], meta_path, tuple(names),
                      tuple(lrs), tuple(gts))
