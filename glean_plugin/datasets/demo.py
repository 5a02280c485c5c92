"""A small paired face SR data set built from faces scikit-image ships.

``skimage.data.lfw_subset()`` holds 100 aligned 25x25 grey faces from
Labeled Faces in the Wild (and 100 non-face patches, not used). Faces are
GLEAN's home ground: a category-specific prior is what the latent bank
brings, and on faces a few CPU-minutes of training learn enough of it to beat
bicubic clearly, which natural-photo crops do not in that budget.

The first faces train, the last ones are held out for validation (none of
their pixels is seen in training). Each face is resized MATLAB-like to the GT
size (25 -> 32 by default); training faces also give extra crops of slightly
larger resizes (scale and position jitter, random flips). LR images are made
with MATLAB-like bicubic downsampling (MMagic's implementation), as GLEAN's
data sets are.
"""
import os
import os.path as osp
import shutil
import uuid
from typing import Dict, Sequence

import numpy as np

from ..fileio import atomic_open, replace_durable
from ..image import (matlab_downsample, matlab_resize, to_uint8,
                     write_png_atomic)

__all__ = ['NUM_FACES', 'build_demo_dataset']

# lfw_subset(): images 0..99 are faces, 100..199 are not.
NUM_FACES = 100
# Extra training crops come from resizes up to this many pixels larger than
# the GT, so the jitter shifts and scales faces by a few pixels only.
MAX_JITTER = 6
META_FILE = 'meta_info_GT.txt'
# Permissions of a new folder before the umask (what os.makedirs uses;
# tempfile.mkdtemp would give 0o700).
NEW_FOLDER_MODE = 0o777
# Hex digits of the random part of the temporary folder's name.
_RANDOM_CHARS = 8


def _faces() -> np.ndarray:
    """(100, 25, 25) float faces in [0, 1]."""
    import skimage.data
    return skimage.data.lfw_subset()[:NUM_FACES]


def _to_uint8_rgb(face: np.ndarray) -> np.ndarray:
    return np.repeat(to_uint8(face)[..., None], 3, axis=2)


def _crop(face: np.ndarray, gt_size: int, jitter: bool,
          rng: np.random.Generator) -> np.ndarray:
    """A gt_size x gt_size uint8 RGB crop of a MATLAB-like resized face."""
    size = gt_size + (int(rng.integers(0, MAX_JITTER + 1)) if jitter else 0)
    big = matlab_resize(_to_uint8_rgb(face), (size, size))
    y = int(rng.integers(0, size - gt_size + 1)) if jitter else (
        size - gt_size) // 2
    x = int(rng.integers(0, size - gt_size + 1)) if jitter else (
        size - gt_size) // 2
    out = big[y:y + gt_size, x:x + gt_size]
    if jitter and rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def _write_split(root: str, faces: np.ndarray, first: int,
                 crops_per_face: int, gt_size: int, scales: Sequence[int],
                 rng: np.random.Generator) -> int:
    os.makedirs(osp.join(root, 'GT'))
    for s in scales:
        os.makedirs(osp.join(root, f'BIx{s}_down'))
    files = []
    for i, face in enumerate(faces, start=first):
        for k in range(crops_per_face):
            gt = _crop(face, gt_size, jitter=k > 0, rng=rng)
            fname = f'face{i:03d}_{k}.png'
            write_png_atomic(osp.join(root, 'GT', fname), gt)
            for s in scales:
                write_png_atomic(osp.join(root, f'BIx{s}_down', fname),
                                 matlab_downsample(gt, s))
            files.append(fname)
    with atomic_open(osp.join(root, META_FILE), 'w') as f:
        f.write(''.join(f'{fname}\n' for fname in files))
    return len(files)


def build_demo_dataset(root: str,
                       gt_size: int = 32,
                       scales: Sequence[int] = (4, 8),
                       train_faces: int = 80,
                       val_faces: int = 20,
                       train_crops: int = 8,
                       seed: int = 0,
                       overwrite: bool = False) -> Dict[str, int]:
    """Write ``root/{train,val}/{GT,BIx<s>_down}`` and meta-info files.

    Args:
        root (str): output folder; must not exist unless ``overwrite``.
        gt_size (int): side of the square GT images.
        scales (Sequence[int]): downsampling factors of the LR folders.
        train_faces (int): faces 0..train_faces-1 train.
        val_faces (int): the last ``val_faces`` faces are held out.
        train_crops (int): images per training face: the centred resize,
            then jittered crops.
        seed (int): jitter and flips.
        overwrite (bool): replace an existing ``root``.

    Returns:
        dict: number of images written per split.

    Raises:
        FileExistsError: ``root`` exists and ``overwrite`` is False.
        ValueError: ``gt_size`` not divisible by a scale, or face counts
            that overlap or exceed the 100 faces.
    """
    for s in scales:
        if gt_size % s:
            raise ValueError(f'gt_size {gt_size} is not divisible by '
                             f'scale {s}')
    if train_faces < 1 or val_faces < 1 or train_crops < 1:
        raise ValueError('train_faces, val_faces and train_crops must be '
                         f'>= 1, got {train_faces}, {val_faces}, '
                         f'{train_crops}')
    if train_faces + val_faces > NUM_FACES:
        raise ValueError(f'train_faces + val_faces must be <= {NUM_FACES} '
                         f'(the faces lfw_subset holds), got '
                         f'{train_faces} + {val_faces}')
    if osp.exists(root) and not overwrite:
        raise FileExistsError(f'{root} exists; pass overwrite=True to replace '
                              'it')
    faces = _faces()
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = osp.join(parent, f'.demo_data_{uuid.uuid4().hex[:_RANDOM_CHARS]}')
    os.mkdir(tmp, NEW_FOLDER_MODE)
    try:
        rng = np.random.default_rng(seed)
        first_val = NUM_FACES - val_faces
        counts = {
            'train': _write_split(osp.join(tmp, 'train'), faces[:train_faces],
                                  0, train_crops, gt_size, scales, rng),
            'val': _write_split(osp.join(tmp, 'val'), faces[first_val:],
                                first_val, 1, gt_size, scales, rng),
        }
        if osp.exists(root):
            shutil.rmtree(root)
        replace_durable(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts
