"""Inference and retouching from image files to PNG files.

Everything that can be checked is checked before anything is written: the
inputs exist and decode, have the model's input shape (or are fitted to it,
keeping their aspect ratio, with a warning), and no output would land on an
input or, without ``overwrite``, on an existing file. In a folder, an image
that cannot be read is skipped with a warning and reported
(``InferenceSummary.failed``); the others are processed. Each output is
written to a temporary name and renamed.
"""
import io
import os
import os.path as osp
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch.nn as nn
from mmengine.utils import ProgressBar

from ..checkpoint import format_key_list
from ..datasets.prepare import IMAGE_EXTENSIONS
from ..fileio import refuse_existing
from ..image import PNG_EXTENSION as OUTPUT_EXTENSION
from ..image import write_png_atomic
from .generator import InferenceSettings
from .inference import (DEFAULT_RESIZE_MODE, InputSizeError, check_resize_mode,
                        fit_input_shape, format_shape, generator_shapes,
                        letterbox_value, retouch, super_resolve)

__all__ = ['InferenceSummary', 'InputSkippedWarning', 'collect_images',
           'lr_path_for', 'plan_outputs', 'read_image', 'retouch_file',
           'super_resolve_files', 'write_png_atomic']

LR_SUFFIX = '_lr'
# JPEG start-of-image marker: OpenCV decodes a truncated JPEG without an
# error (the missing rows come out grey), so JPEGs are checked for it.
JPEG_MAGIC = b'\xff\xd8'


class InputSkippedWarning(UserWarning):
    """A folder entry was skipped: not an image, or an unreadable one."""


@dataclass
class InferenceSummary:
    """What ``super_resolve_files`` did.

    Args:
        written (list[str]): output files, in input order.
        skipped (list[str]): folder entries skipped (not images).
        resized (list[str]): inputs fitted to the model's input shape.
        failed (dict[str, str]): folder images that could not be read
            (skipped), each with the reason.
    """

    written: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    resized: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)


def _check_complete_jpeg(content: bytes, path: str) -> None:
    """Raise ValueError if ``content`` is a JPEG that stops early."""
    from PIL import Image
    try:
        with Image.open(io.BytesIO(content)) as im:
            im.load()
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f'cannot read {path!r} as an image: incomplete or '
                         f'corrupt JPEG ({err})') from err


def read_image(path: str,
               settings: Optional[InferenceSettings] = None) -> np.ndarray:
    """Read an image as the config's ``LoadImageFromFile`` does, in RGB.

    Args:
        path (str): image file.
        settings (InferenceSettings, optional): colour type and decode
            backend. Default: colour, mmcv's default backend.

    Grayscale, palette, RGBA (alpha dropped) and 16-bit images are
    converted as the config's loader converts them (16-bit: the high byte).

    Returns:
        ndarray: uint8 (H, W, C) RGB (C = 1 for grayscale colour types).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a complete, decodable image.
    """
    import mmcv
    settings = settings or InferenceSettings()
    if not osp.isfile(path):
        raise FileNotFoundError(f'image not found: {path!r}')
    with open(path, 'rb') as f:
        content = f.read()
    if content.startswith(JPEG_MAGIC):
        _check_complete_jpeg(content, path)
    try:
        img = mmcv.imfrombytes(content, flag=settings.color_type,
                               channel_order='rgb',
                               backend=settings.imdecode_backend)
    except Exception as err:  # each decoder raises its own types
        raise ValueError(f'cannot read {path!r} as an image: '
                         f'{type(err).__name__}: {err}') from err
    if img is None or img.size == 0:
        raise ValueError(f'cannot read {path!r} as an image: not a valid or '
                         'complete image file')
    if img.ndim == 2:
        img = img[..., None]
    if img.dtype != np.uint8:
        raise ValueError(f'{path!r}: expected an 8-bit image, got {img.dtype}')
    return img


def collect_images(input_path: str) -> Tuple[List[str], List[str]]:
    """The image files of an input: the file itself, or a folder's images.

    In a folder, entries whose extension is not one of ``IMAGE_EXTENSIONS``
    (and sub-folders) are skipped with an ``InputSkippedWarning`` naming them.
    A file given directly is taken whatever its extension.

    Args:
        input_path (str): an image file or a folder of images.

    Returns:
        tuple[list[str], list[str]]: image paths (sorted) and skipped paths.

    Raises:
        FileNotFoundError: ``input_path`` does not exist.
        ValueError: the folder holds no image.
    """
    if osp.isfile(input_path):
        return [input_path], []
    if not osp.isdir(input_path):
        raise FileNotFoundError(f'input not found: {input_path!r}')
    images, skipped = [], []
    for name in sorted(os.listdir(input_path)):
        path = osp.join(input_path, name)
        if osp.isfile(path) and name.lower().endswith(IMAGE_EXTENSIONS):
            images.append(path)
            continue
        skipped.append(path)
        what = 'a folder' if osp.isdir(path) else 'not an image ({})'.format(
            ', '.join(IMAGE_EXTENSIONS))
        warnings.warn(f'skipped {path!r}: {what}', InputSkippedWarning,
                      stacklevel=2)
    if not images:
        raise ValueError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in '
                         f'{input_path!r}')
    return images, skipped


def _same_file(path: str, others: Sequence[str]) -> Optional[str]:
    """The first of ``others`` that is the same file as ``path``."""
    if not osp.exists(path):
        return None
    return next((o for o in others if osp.samefile(path, o)), None)


def plan_outputs(inputs: Sequence[str],
                 out_dir: str,
                 overwrite: bool = False) -> List[str]:
    """Output paths ``out_dir/<input stem>.png``, checked before any writing.

    Args:
        inputs (Sequence[str]): input image paths.
        out_dir (str): output folder (need not exist).
        overwrite (bool): allow replacing existing outputs (never inputs).

    Returns:
        list[str]: one output path per input.

    Raises:
        ValueError: ``out_dir`` is a file, two inputs would write the same
            output, or an output would overwrite an input.
        FileExistsError: outputs exist and ``overwrite`` is False.
    """
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ValueError(f'output folder {out_dir!r} is a file')
    outputs = [osp.join(out_dir, osp.splitext(osp.basename(p))[0] +
                        OUTPUT_EXTENSION) for p in inputs]
    first = {}
    for inp, out in zip(inputs, outputs):
        if out in first:
            raise ValueError(f'{first[out]!r} and {inp!r} would both be '
                             f'written to {out!r}')
        first[out] = inp
    for out in outputs:
        clash = _same_file(out, inputs)
        if clash:
            raise ValueError(f'output {out!r} would overwrite the input '
                             f'{clash!r}: choose another output folder')
    refuse_existing(outputs, overwrite)
    return outputs


def super_resolve_files(generator: nn.Module,
                        input_path: str,
                        out_dir: str,
                        settings: Optional[InferenceSettings] = None,
                        batch_size: int = 1,
                        resize: bool = False,
                        overwrite: bool = False,
                        progress: bool = True,
                        resize_mode: str = DEFAULT_RESIZE_MODE
                        ) -> InferenceSummary:
    """Super-resolve an image or a folder of images into PNGs.

    All inputs are read and checked first (LR images are small; resized
    inputs are kept at the input shape only), then super-resolved in
    batches; each output is written as soon as its batch is done.

    Args:
        generator (nn.Module): e.g. from ``init_generator``.
        input_path (str): an image file or a folder (see ``collect_images``).
        out_dir (str): output folder, created if needed; outputs are named
            ``<input stem>.png``.
        settings (InferenceSettings, optional): see ``super_resolve``.
        batch_size (int): images per forward pass.
        resize (bool): fit inputs of another shape than the model's input
            shape, keeping their aspect ratio (see ``fit_input_shape``),
            instead of refusing them.
        overwrite (bool): replace existing outputs (inputs never).
        progress (bool): show a progress bar.
        resize_mode (str): how ``resize`` keeps the aspect ratio: 'pad'
            (default; letterbox with the generator's padding, see
            ``letterbox_value``) or 'crop' (centre crop).

    An image of a folder that cannot be read is skipped with an
    ``InputSkippedWarning`` and listed in ``summary.failed``; the others are
    processed. Inputs of the wrong size are a systematic error (another
    model's data?): they are all listed and nothing is written.

    Returns:
        InferenceSummary: what was written, skipped, resized and failed.

    Raises:
        FileNotFoundError, FileExistsError, ValueError: see
            ``collect_images``, ``plan_outputs``, ``read_image`` (an input
            file that cannot be read, or a folder none of whose images can);
            ``InputSizeError`` (a ValueError) lists every input of the
            wrong size. Nothing is written then.
    """
    settings = settings or InferenceSettings()
    in_shape, _ = generator_shapes(generator)
    fill = letterbox_value(generator, settings)
    check_resize_mode(resize_mode)
    inputs, skipped = collect_images(input_path)
    outputs = plan_outputs(inputs, out_dir, overwrite)
    summary = InferenceSummary(skipped=skipped)
    images, wrong_size, kept = [], [], []
    for path, out_path in zip(inputs, outputs):
        try:
            img = read_image(path, settings)
        except ValueError as err:
            if osp.isfile(input_path):
                raise
            summary.failed[path] = str(err)
            warnings.warn(f'skipped {path!r}: {err}', InputSkippedWarning,
                          stacklevel=2)
            continue
        if img.shape[:2] != in_shape:
            if not resize:
                wrong_size.append(f'{path} ({format_shape(img.shape)})')
                continue
            summary.resized.append(path)
        images.append(fit_input_shape(img, in_shape, resize, path,
                                      resize_mode, fill))
        kept.append(out_path)
    if not images and summary.failed:
        raise ValueError(
            f'none of the {len(inputs)} images in {input_path!r} could be '
            f'read: {format_key_list(summary.failed)}')
    if wrong_size:
        raise InputSizeError(
            f'the model takes {format_shape(in_shape)} (WxH) inputs; '
            f'{len(wrong_size)} input(s) differ: '
            f'{format_key_list(wrong_size)}')
    os.makedirs(out_dir, exist_ok=True)
    bar = ProgressBar(len(images)) if progress else None
    for start in range(0, len(images), batch_size):
        batch = super_resolve(generator, images[start:start + batch_size],
                              settings, batch_size)
        for out_path, img in zip(kept[start:start + batch_size], batch):
            write_png_atomic(out_path, img)
            summary.written.append(out_path)
        if bar:
            bar.update(len(batch))
    return summary


def lr_path_for(output: str) -> str:
    """Where ``retouch_file`` writes the LR input: ``<output>_lr.png``."""
    return osp.splitext(output)[0] + LR_SUFFIX + OUTPUT_EXTENSION


def retouch_file(generator: nn.Module,
                 edited_path: str,
                 output: str,
                 settings: Optional[InferenceSettings] = None,
                 resize: bool = False,
                 save_lr: bool = False,
                 overwrite: bool = False,
                 resize_mode: str = DEFAULT_RESIZE_MODE
                 ) -> Tuple[str, Optional[str]]:
    """Retouch an edited image file (see ``retouch``) into a PNG.

    Args:
        generator (nn.Module): e.g. from ``init_generator``.
        edited_path (str): the edited high-resolution image.
        output (str): output ``.png`` file; its folder is created if needed.
        settings (InferenceSettings, optional): see ``super_resolve``.
        resize (bool): see ``retouch_input``.
        save_lr (bool): also write the LR input to ``lr_path_for(output)``.
        overwrite (bool): replace existing outputs (never the input).
        resize_mode (str): see ``retouch``.

    Returns:
        tuple[str, str | None]: the output path and the LR path (None unless
        ``save_lr``).

    Raises:
        FileNotFoundError, ValueError: see ``read_image`` and
            ``retouch_input``; ``output`` not ending in .png or naming the
            input.
        FileExistsError: an output exists and ``overwrite`` is False.
    """
    if not output.lower().endswith(OUTPUT_EXTENSION):
        raise ValueError(f'the output must be a {OUTPUT_EXTENSION} file, got '
                         f'{output!r}')
    targets = [output] + ([lr_path_for(output)] if save_lr else [])
    for target in targets:
        if osp.isdir(target):
            raise ValueError(f'output {target!r} is a folder')
        if _same_file(target, [edited_path]):
            raise ValueError(f'output {target!r} would overwrite the input '
                             f'{edited_path!r}')
    refuse_existing(targets, overwrite)
    edited = read_image(edited_path, settings)
    result, lr = retouch(generator, edited, settings, resize,
                         name=edited_path, resize_mode=resize_mode)
    os.makedirs(osp.dirname(osp.abspath(output)), exist_ok=True)
    if save_lr:
        write_png_atomic(targets[1], lr)
    write_png_atomic(output, result)
    return output, targets[1] if save_lr else None
