"""Face restoration from a photo file to a folder of PNGs and a JSON report.

For ``PHOTO = path/to/<stem>.<ext>`` the folder gets:

- ``<stem>_restored.png``: the output photo (see ``restore_faces``);
- ``<stem>_face<NN>_input.png`` / ``<stem>_face<NN>_restored.png``: each
  restored face's aligned model input and model output (NN = the face's
  index in the report);
- ``<stem>_faces.json``: the report (``face_report``).

Faces are detected first, so every output name is known and checked before
anything is written: none may land on the photo, and existing files are
replaced only with ``overwrite``. Each file is written atomically.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import torch.nn as nn

from ..apis.files import read_image, write_png_atomic
from ..apis.generator import InferenceSettings
from ..fileio import refuse_existing, write_json_atomic
from .align import FEATHER
from .detect import MIN_FACE_SIZE
from .restore import FaceLimits, FaceRestoration, restore_faces

__all__ = ['FaceFiles', 'face_report', 'restore_faces_file']

PHOTO_SUFFIX = '_restored.png'
REPORT_SUFFIX = '_faces.json'
CROP_NAMES = ('input', 'restored')


@dataclass
class FaceFiles:
    """What ``restore_faces_file`` did.

    Args:
        restoration (FaceRestoration): the photo and its faces.
        report (dict): what was written to the JSON report.
        written (list[str]): the files written, the photo first.
    """

    restoration: FaceRestoration
    report: Dict
    written: List[str]


def _crop_path(out_dir: str, stem: str, index: int, what: str) -> str:
    return osp.join(out_dir, f'{stem}_face{index:02d}_{what}.png')


def _names(photo_path: str, out_dir: str, indices) -> List[str]:
    stem = osp.splitext(osp.basename(photo_path))[0]
    return [osp.join(out_dir, stem + PHOTO_SUFFIX),
            osp.join(out_dir, stem + REPORT_SUFFIX)] + [
                _crop_path(out_dir, stem, i, what) for i in indices
                for what in CROP_NAMES]


def _check_outputs(photo_path: str, out_dir: str, outputs: List[str],
                   overwrite: bool) -> List[str]:
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ValueError(f'output folder {out_dir!r} is a file')
    for out in outputs:
        if osp.exists(out) and osp.samefile(out, photo_path):
            raise ValueError(f'output {out!r} would overwrite the photo: '
                             'choose another output folder')
    refuse_existing(outputs, overwrite)
    return outputs


def _round(values, digits: int = 2) -> list:
    return np.round(np.asarray(values, np.float64), digits).tolist()


def face_report(restoration: FaceRestoration, photo_path: str,
                photo_shape, files: Optional[Dict[int, Dict]] = None
                ) -> Dict:
    """The JSON-ready report of a restoration.

    Args:
        restoration (FaceRestoration): from ``restore_faces``.
        photo_path (str): the photo's path, as given.
        photo_shape (tuple): the photo's (H, W, ...) shape.
        files (dict[int, dict], optional): per face index, its crop files.

    Returns:
        dict: ``photo``, ``photo_size`` / ``output_size`` ([W, H]),
        ``scale``, ``found``, ``restored``, ``skipped`` (counts) and
        ``faces``: per face ``index``, ``status`` ('restored', 'too_small',
        'too_large'), ``reason``, ``box`` ([x, y, w, h] in the photo),
        ``eyes`` ([[x, y], [x, y]] or null), ``alignment`` ('eyes' or
        'box'), ``crop_side`` (photo pixels), ``quad`` (the crop's corners
        in the output photo) and ``files``.
    """
    faces = []
    for i, face in enumerate(restoration.faces):
        eyes = face.detection.eyes
        faces.append({
            'index': i, 'status': face.status, 'reason': face.reason,
            'box': list(face.detection.box),
            'eyes': None if eyes is None else _round(eyes),
            'alignment': face.alignment,
            'crop_side': round(face.crop_side, 2),
            'quad': _round(face.quad),
            'files': (files or {}).get(i, {})})
    restored = len(restoration.restored)
    return {
        'photo': photo_path,
        'photo_size': [int(photo_shape[1]), int(photo_shape[0])],
        'output_size': [int(restoration.photo.shape[1]),
                        int(restoration.photo.shape[0])],
        'scale': restoration.scale,
        'found': len(faces), 'restored': restored,
        'skipped': len(faces) - restored, 'faces': faces}


def restore_faces_file(generator: nn.Module,
                       photo_path: str,
                       out_dir: str,
                       settings: Optional[InferenceSettings] = None,
                       keep_size: bool = False,
                       overwrite: bool = False,
                       limits: FaceLimits = FaceLimits(),
                       feather: float = FEATHER,
                       min_face: int = MIN_FACE_SIZE) -> FaceFiles:
    """Restore the faces of a photo file into ``out_dir`` (see the module).

    The restored photo and the report are written even when no face is
    found or restored (the photo is then the background: the bicubic
    enlargement, or the photo itself with ``keep_size``).

    Args:
        generator (nn.Module): a square face model.
        photo_path (str): the photo.
        out_dir (str): output folder, created if needed.
        settings (InferenceSettings, optional): how the config reads and
            normalises images.
        keep_size (bool): see ``restore_faces``.
        overwrite (bool): replace existing outputs (never the photo).
        limits (FaceLimits): see ``restore_faces``.
        feather (float): see ``restore_faces``.
        min_face (int): see ``restore_faces``.

    Returns:
        FaceFiles: the restoration, the report and the files written.

    Raises:
        FileNotFoundError: no such photo.
        FileExistsError: outputs exist and ``overwrite`` is False (nothing
            is written).
        ValueError: an unreadable photo, a bad output folder or model.
    """
    photo = read_image(photo_path, settings)
    # nothing may be computed onto existing outputs: the common names first
    _check_outputs(photo_path, out_dir, _names(photo_path, out_dir, ()),
                   overwrite)
    restoration = restore_faces(generator, photo, settings, keep_size,
                                limits, feather, min_face)
    indices = [i for i, f in enumerate(restoration.faces)
               if f.status == 'restored']
    outputs = _check_outputs(photo_path, out_dir,
                             _names(photo_path, out_dir, indices), overwrite)
    photo_out, report_out, crop_outs = outputs[0], outputs[1], outputs[2:]
    files = {i: dict(zip(CROP_NAMES, map(osp.basename,
                                          crop_outs[2 * k:2 * k + 2])))
             for k, i in enumerate(indices)}
    report = face_report(restoration, photo_path, photo.shape, files)
    report['output'] = osp.basename(photo_out)
    write_png_atomic(photo_out, restoration.photo)
    written = [photo_out]
    for k, i in enumerate(indices):
        face = restoration.faces[i]
        for path, img in zip(crop_outs[2 * k:2 * k + 2],
                             (face.input_crop, face.restored_crop)):
            write_png_atomic(path, img)
            written.append(path)
    write_json_atomic(report, report_out)
    written.append(report_out)
    return FaceFiles(restoration, report, written)
