"""Build paired GT / MATLAB-bicubic LR folders and MMagic meta-info files.

The LR images of GLEAN's data sets are made with MATLAB's ``imresize``
(bicubic with anti-aliasing). OpenCV's or PIL's bicubic gives different,
aliased inputs and is the most common cause of poor GLEAN results, so this
uses MMagic's MATLAB-like resize.

A source is a folder of images (searched recursively for the data set
presets) or an LSUN LMDB database (a folder holding ``data.mdb``; reading it
needs ``pip install lmdb``). Every output image is written under a temporary
name and renamed, and the meta-info file is written last, once every image
is done: an interrupted run leaves only complete images and no meta-info
file (so no config can train on half a data set), and rerunning with
``resume=True`` (``--resume``) finishes it, skipping the images whose outputs
all exist. A source image that cannot be read or fitted is skipped and
reported, the others are written, and no meta-info file is written until
every image is done (``IncompleteDatasetError``).
"""
import contextlib
import io
import logging
import multiprocessing
import os
import os.path as osp
import re
import shutil
from dataclasses import replace
from functools import partial
from itertools import islice
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from ..checkpoint import format_key_list
from ..fileio import atomic_open, link_atomic, partial_files
from ..image import matlab_downsample, matlab_resize, write_png_atomic
from .presets import DatasetPreset

__all__ = [
    'IMAGE_EXTENSIONS', 'IncompleteDatasetError', 'matlab_downsample',
    'matlab_resize', 'prepare_dataset', 'prepare_sr_folders'
]

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff')
LMDB_DATA_FILE = 'data.mdb'
# Images handed to the worker pool at a time (per worker): bounds the memory
# an LMDB source's encoded images take while they wait.
JOBS_PER_WORKER = 16
# Temporary names that earlier versions left ('.<name>.tmp'); a resumed run
# removes them with fileio's partial files.
TMP_PREFIX, TMP_SUFFIX = '.', '.tmp'
RESUME_HINT = ('complete outputs are kept and no meta-info file was '
               'written; fix the cause and rerun the same command with '
               '--resume (resume=True) to finish')
# PIL modes of 16-bit grayscale images. PIL's convert('RGB') clips them to
# 255; they are reduced to their high byte instead, as OpenCV (the configs'
# image loader) reads them.
SIXTEEN_BIT_MODES = ('I;16', 'I;16B', 'I;16L', 'I;16N')
BITS_DROPPED_FROM_16 = 8
# An 8-bit RGB PNG (bit depth 8, colour type 2 in its IHDR chunk) that ends
# with its IEND chunk can be copied as the GT without re-encoding.
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
PNG_IHDR_DEPTH_TYPE = slice(24, 26)
PNG_8BIT_RGB = bytes((8, 2))
PNG_IEND = b'\x00\x00\x00\x00IEND\xaeB`\x82'
# Skipped images whose reasons an IncompleteDatasetError spells out.
MAX_LISTED_FAILURES = 20


class IncompleteDatasetError(ValueError):
    """Some source images could not be prepared; the others were written.

    Args:
        message (str): what happened and how to finish.
        failed (dict[str, str]): source image -> reason.
        done (int): images written.
    """

    def __init__(self, message: str, failed: Dict[str, str],
                 done: int) -> None:
        super().__init__(message)
        self.failed = dict(failed)
        self.done = done


def _natural_key(name: str) -> list:
    """Sort key putting 'img2' before 'img10'."""
    return [(0, int(p), '') if p.isdigit() else (1, 0, p)
            for p in re.split(r'(\d+)', name)]


# ----------------------------------------------------------------- sources
class _FolderSource:
    """Images in a folder (and its sub-folders if ``recursive``), by stem."""

    def __init__(self, root: str, recursive: bool):
        if not osp.isdir(root):
            raise FileNotFoundError(f'not a folder of images nor an LMDB '
                                    f'database: {root!r}')
        self.root = root
        self.paths: Dict[str, str] = {}
        ignored = []
        walk = os.walk(root) if recursive else [
            (root, [], [n for n in os.listdir(root)
                        if osp.isfile(osp.join(root, n))])]
        for folder, dirs, files in walk:
            dirs.sort()
            for name in sorted(files):
                if not name.lower().endswith(IMAGE_EXTENSIONS):
                    ignored.append(osp.join(folder, name))
                    continue
                path = osp.join(folder, name)
                stem = osp.splitext(name)[0]
                if stem in self.paths:
                    raise ValueError(
                        f'two source images give the output name '
                        f'{stem}.png: {self.paths[stem]!r} and {path!r}')
                self.paths[stem] = path
        if not self.paths:
            raise ValueError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in '
                             f'{root!r}')
        if ignored:
            print_log(f'ignored {len(ignored)} file(s) in {root!r} that are '
                      f'not images ({", ".join(IMAGE_EXTENSIONS)}): '
                      f'{format_key_list(ignored)}', logger='current',
                      level=logging.WARNING)

    def __len__(self) -> int:
        return len(self.paths)

    def stems(self) -> Iterator[str]:
        return iter(sorted(self.paths, key=_natural_key))

    def missing(self, stems: Sequence[str]) -> List[str]:
        return [s for s in stems if s not in self.paths]

    def job(self, stem: str) -> Tuple[str, str, object]:
        path = self.paths[stem]
        return stem, path, path

    def close(self) -> None:
        pass


class _LmdbSource:
    """An LSUN LMDB database: keys are image ids, values encoded images."""

    def __init__(self, root: str):
        try:
            import lmdb
        except ImportError as err:
            raise ImportError(
                f'{root!r} is an LMDB database and reading it needs the lmdb '
                f'package: pip install lmdb (or export its images to a '
                f'folder and give that folder)') from err
        self.root = root
        try:
            self.env = lmdb.open(root, readonly=True, lock=False,
                                 readahead=False, meminit=False)
        except lmdb.Error as err:
            raise ValueError(
                f'cannot open LMDB database {root!r}: {err}') from err
        self.txn = self.env.begin(write=False)

    def __len__(self) -> int:
        return self.env.stat()['entries']

    def stems(self) -> Iterator[str]:
        """Keys in the database's (byte) order."""
        for key in self.txn.cursor().iternext(keys=True, values=False):
            yield key.decode('ascii')

    def missing(self, stems: Sequence[str]) -> List[str]:
        return [s for s in stems if self.txn.get(s.encode('ascii')) is None]

    def job(self, stem: str) -> Tuple[str, str, object]:
        return stem, f'{self.root}:{stem}', self.txn.get(stem.encode('ascii'))

    def close(self) -> None:
        self.txn.abort()
        self.env.close()


def _is_lmdb(src: str) -> bool:
    return osp.isfile(osp.join(src, LMDB_DATA_FILE))


def _open_source(src: str, recursive: bool):
    if osp.basename(src) == LMDB_DATA_FILE and osp.isfile(src):
        src = osp.dirname(src) or '.'
    return _LmdbSource(src) if _is_lmdb(src) else _FolderSource(src, recursive)


def _read_name_list(list_file: str) -> List[str]:
    """Image stems from a list file: one name a line, as MMagic's meta-info
    files (``name.png (H,W,C)``); the first word counts, its extension and
    folders are dropped."""
    if not osp.isfile(list_file):
        raise FileNotFoundError(f'list file not found: {list_file!r}')
    with open(list_file) as f:
        words = [line.split()[0] for line in f if line.strip()]
    if not words:
        raise ValueError(f'list file {list_file!r} names no images')
    return [osp.splitext(osp.basename(w))[0] for w in words]


# ----------------------------------------------------------------- workers
def _is_complete_8bit_rgb_png(path: str) -> bool:
    """Whether ``path`` is an 8-bit RGB PNG that ends with its IEND chunk."""
    with open(path, 'rb') as f:
        head = f.read(PNG_IHDR_DEPTH_TYPE.stop)
        f.seek(0, os.SEEK_END)
        if f.tell() < len(head) + len(PNG_IEND):
            return False
        f.seek(-len(PNG_IEND), os.SEEK_END)
        tail = f.read()
    return (head.startswith(PNG_SIGNATURE)
            and head[PNG_IHDR_DEPTH_TYPE] == PNG_8BIT_RGB
            and tail == PNG_IEND)


def _decode(payload, name: str) -> Tuple[np.ndarray, bool]:
    """uint8 RGB (H, W, 3) of a path or encoded bytes, and whether the file
    is a complete 8-bit RGB PNG (then its bytes can be copied as the GT).

    Grayscale and palette images become RGB, alpha is dropped, 16-bit
    grayscale keeps its high byte (as OpenCV reads it).
    """
    from PIL import Image
    source = payload if isinstance(payload, str) else io.BytesIO(payload)
    try:
        with Image.open(source) as im:
            if im.mode in SIXTEEN_BIT_MODES or (im.mode == 'I'
                                                and im.format == 'PNG'):
                gray = np.asarray(im).astype(np.uint32) >> \
                    BITS_DROPPED_FROM_16
                img = np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2)
            elif im.mode in ('I', 'F'):
                raise ValueError(f'{im.mode!r} (32-bit) images are not '
                                 'supported; convert it to 8 or 16 bits')
            else:
                img = np.asarray(im.convert('RGB'))
            fmt = im.format
    except (OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as err:
        raise ValueError(f'cannot read image {name!r}: {err}') from err
    copyable = (isinstance(payload, str) and fmt == 'PNG'
                and _is_complete_8bit_rgb_png(payload))
    return img, copyable


def _fit(img: np.ndarray, shape: Optional[Tuple[int, int]], fit: str,
         name: str) -> np.ndarray:
    """The (height, width) = ``shape`` GT of ``img`` (``img`` itself when it
    already has that shape)."""
    h, w = img.shape[:2]
    if shape is None or (h, w) == tuple(shape):
        return img
    if fit == 'exact':
        raise ValueError(f'{name!r}: expected {shape[1]}x{shape[0]} (width x '
                         f'height), got {w}x{h}')
    if fit == 'center-crop':
        # the largest centred window of the shape's aspect ratio
        scale = min(h / shape[0], w / shape[1])
        ch, cw = round(shape[0] * scale), round(shape[1] * scale)
        top, left = (h - ch) // 2, (w - cw) // 2
        img = np.ascontiguousarray(img[top:top + ch, left:left + cw])
        if (ch, cw) == tuple(shape):
            return img
    return matlab_resize(img, shape)


def _copy_file(src: str, path: str, link: bool) -> None:
    """Hard-link (if asked and possible) or copy ``src``, atomically."""
    if link:
        try:
            link_atomic(src, path)
            return
        except OSError:  # another file system, or no hard links: copy
            pass
    with open(src, 'rb') as source, atomic_open(path) as f:
        shutil.copyfileobj(source, f)


def _image_size(path: str) -> Tuple[int, int]:
    from PIL import Image
    with Image.open(path) as im:
        return im.size


def _process(preset: DatasetPreset, out_root: str, link: bool, resume: bool,
             job: Tuple[str, str, object]) -> str:
    """Write one image's GT and LR files; return its meta-info line."""
    stem, name, payload = job
    fname = f'{stem}.png'
    outputs = {
        folder: osp.join(out_root, folder, fname)
        for folder in preset.lr_folders
    }
    gt_path = payload
    if preset.gt_folder is not None:
        gt_path = outputs[preset.gt_folder] = osp.join(
            out_root, preset.gt_folder, fname)
    if resume and all(osp.exists(p) for p in outputs.values()):
        w, h = _image_size(gt_path)
        return f'{fname} ({h},{w},3)'
    img, copyable = _decode(payload, name)
    gt = _fit(img, preset.shape, preset.fit, name)
    h, w = gt.shape[:2]
    bad = [s for s in preset.scales if h % s or w % s]
    if bad:
        raise ValueError(f'{name!r}: size {w}x{h} is not divisible by scale '
                         f'{bad[0]}')
    if preset.gt_folder is None and gt is not img:
        raise ValueError(f'{name!r}: the GT stays in the source folder but '
                         f'would have to change; give a GT folder')
    for folder, path in outputs.items():
        if folder == preset.gt_folder:
            if copyable and gt is img:
                _copy_file(payload, path, link)
            else:
                write_png_atomic(path, gt)
        else:
            write_png_atomic(path,
                             matlab_downsample(gt, preset.lr_folders[folder]))
    return f'{fname} ({h},{w},3)'


def _process_or_report(preset: DatasetPreset, out_root: str, link: bool,
                       resume: bool, job: Tuple[str, str, object]
                       ) -> Tuple[Optional[str], Optional[str]]:
    """``_process``'s meta-info line, or the reason the image was skipped
    (it cannot be read or fitted)."""
    try:
        return _process(preset, out_root, link, resume, job), None
    except ValueError as err:
        return None, str(err)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    items = iter(items)
    while batch := list(islice(items, size)):
        yield batch


# ------------------------------------------------------------------- driver
def _select(source, preset: DatasetPreset, src: str,
            list_file: Optional[str]) -> Tuple[Iterable[str], int]:
    """The stems to prepare, in order, and how many there are."""
    if list_file is None and preset.list_required:
        raise ValueError(f'{preset.name} is defined by a list of names: '
                         f'give the list file. Source: {preset.source}')
    if list_file is not None:
        stems = _read_name_list(list_file)
        missing = source.missing(stems)
        if missing:
            raise ValueError(
                f'{len(missing)} of the {len(stems)} images named in '
                f'{list_file!r} are not in {src!r}, e.g. '
                f'{", ".join(missing[:5])}')
        total = len(stems)
    else:
        stems, total = source.stems(), len(source)
    if preset.limit is not None:
        if total < preset.limit:
            raise ValueError(f'{preset.name} takes the first {preset.limit} '
                             f'images but {src!r} has {total}')
        stems, total = islice(stems, preset.limit), preset.limit
    return stems, total


def _gt_in_place(preset: DatasetPreset, src: str,
                 out_root: str) -> DatasetPreset:
    """``preset`` without a GT folder when its GT folder is ``src``."""
    gt_dir = osp.join(out_root, preset.gt_folder or '')
    if preset.gt_folder and osp.isdir(gt_dir) and osp.samefile(src, gt_dir):
        return replace(preset, gt_folder=None)
    return preset


def _check_in_place(source, src: str) -> None:
    """A GT left in the source must be ``<stem>.png`` right in it."""
    if not isinstance(source, _FolderSource):
        raise ValueError(f'{src!r} is an LMDB database: the GT must be '
                         f'written to a GT folder')
    for stem, path in source.paths.items():
        if osp.normpath(path) != osp.normpath(osp.join(src, f'{stem}.png')):
            raise ValueError(
                f'the GT stays in {src!r}, so every image must be a PNG '
                f'directly in it, but found {path!r}; write the GT to '
                f'another folder (another output root or GT folder)')


def _remove_stale_tmp(folder: str) -> None:
    """Remove the temporary files that a killed run left in ``folder``."""
    for name in os.listdir(folder):
        if name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX):
            os.remove(osp.join(folder, name))
    for name in partial_files(folder):
        os.remove(osp.join(folder, name))


def prepare_dataset(preset: DatasetPreset,
                    src: str,
                    out_root: Optional[str] = None,
                    list_file: Optional[str] = None,
                    overwrite: bool = False,
                    resume: bool = False,
                    num_workers: int = 1,
                    link: bool = False,
                    progress: bool = True) -> Dict[str, int]:
    """Write ``out_root/{<gt_folder>,BIx<s>_down}/<stem>.png`` and
    ``out_root/<meta_file>`` from the images of ``src``.

    Each GT is the source image fitted to ``preset.size`` (see
    :data:`~glean_plugin.datasets.presets.FIT_MODES`); each LR is
    :func:`matlab_downsample` of the written GT. The meta-info file has one
    ``<stem>.png (H,W,3)`` line per image, as MMagic's and GLEAN's.

    Args:
        preset (DatasetPreset): layout and GT protocol, e.g.
            ``get_preset('ffhq')``; ``dataclasses.replace`` it to change a
            field (``size``, ``scales``, ``limit``, ...).
        src (str): image folder, or LMDB folder (with ``data.mdb``).
        out_root (str, optional): output data root; default
            ``preset.data_root``. When ``out_root/<gt_folder>`` is ``src``
            the GT stays where it is.
        list_file (str, optional): file naming the images to take, one a
            line (a meta-info file works); default all images (or the
            first ``preset.limit``) in natural name order (LMDB: key order).
        overwrite (bool): write into existing output folders, replacing
            the files it writes (others stay; the meta-info file names the
            set).
        resume (bool): finish an interrupted run: keep the outputs that
            exist, write the rest and the meta-info file.
        num_workers (int): processes that decode, resize and write; 1 runs
            in this process.
        link (bool): hard-link, rather than copy, a GT that is a source
            8-bit RGB PNG needing no change (a copy across file systems).
            Such a GT is never re-encoded.
        progress (bool): show a progress bar.

    Returns:
        dict: number of images per output folder.

    Raises:
        FileNotFoundError, FileExistsError, ValueError, ImportError: before
            anything is written, naming what was expected and found.
        IncompleteDatasetError: images that could not be read or fitted,
            each named with the reason; every other image was written, no
            meta-info file was, and the message says how to finish.
        OSError: writing failed (e.g. the disk is full); the images done
            before stay and the message says how to resume.
    """
    if overwrite and resume:
        raise ValueError('give overwrite or resume, not both')
    if num_workers < 1:
        raise ValueError(f'num_workers must be >= 1, got {num_workers}')
    out_root = out_root or preset.data_root
    if not out_root:
        raise ValueError(f'{preset.name} has no default data root: give '
                         f'out_root')
    if not osp.exists(src):
        raise FileNotFoundError(f'source not found: {src!r} (expected: '
                                f'{preset.source})')
    if osp.exists(out_root) and not osp.isdir(out_root):
        raise FileExistsError(f'output root {out_root!r} is a file, expected '
                              'a folder')
    with contextlib.closing(_open_source(src, preset.recursive)) as source:
        preset = _gt_in_place(preset, src, out_root)
        if preset.gt_folder is None:
            _check_in_place(source, src)
        stems, total = _select(source, preset, src, list_file)
        folders = list(preset.lr_folders)
        if preset.gt_folder is not None:
            folders.append(preset.gt_folder)
        targets = [osp.join(out_root, f) for f in folders]
        meta_path = osp.join(out_root, preset.meta_file)
        existing = [t for t in targets + [meta_path] if osp.exists(t)]
        if existing and not (overwrite or resume):
            raise FileExistsError(
                f'output exists: {", ".join(existing)}; pass overwrite '
                f'(--overwrite) to replace it or resume (--resume) to finish '
                f'an interrupted run')
        if osp.exists(meta_path):
            os.remove(meta_path)  # written again once every image is done
        for folder in targets:
            os.makedirs(folder, exist_ok=True)
            _remove_stale_tmp(folder)
        lines, failed = _run(preset, out_root, link, resume,
                             (source.job(s) for s in stems), total,
                             num_workers, progress)
    if failed:
        reasons = ''.join(f'\n  {reason}' for reason in
                          list(failed.values())[:MAX_LISTED_FAILURES])
        if len(failed) > MAX_LISTED_FAILURES:
            reasons += f'\n  ... and {len(failed) - MAX_LISTED_FAILURES} more'
        raise IncompleteDatasetError(
            f'{len(failed)} of {total} images could not be prepared and '
            f'were skipped:{reasons}\nThe other {len(lines)} were written; '
            'no meta-info file was written, so no config reads an '
            'incomplete set. Fix or remove the skipped images (and drop '
            'them from the list file, if any), then rerun the same command '
            'with --resume (resume=True) to finish.', failed, len(lines))
    with atomic_open(meta_path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))
    return {folder: len(lines) for folder in folders}


def _run(preset: DatasetPreset, out_root: str, link: bool, resume: bool,
         jobs: Iterable[tuple], total: int, num_workers: int,
         progress: bool) -> Tuple[List[str], Dict[str, str]]:
    """Process ``jobs`` in order, in a pool when ``num_workers > 1``.

    Returns the meta-info lines of the images written and, for each image
    skipped, the reason (by source name).
    """
    # Import the resize before forking so that workers inherit it.
    from mmagic.datasets.transforms import MATLABLikeResize  # noqa: F401
    work = partial(_process_or_report, preset, out_root, link, resume)
    bar = ProgressBar(total) if progress else None
    lines: List[str] = []
    failed: Dict[str, str] = {}
    pool = (multiprocessing.Pool(num_workers)
            if num_workers > 1 else contextlib.nullcontext())
    with pool:
        try:
            for batch in _batches(jobs, JOBS_PER_WORKER * num_workers):
                results = (pool.imap(work, batch)
                           if num_workers > 1 else map(work, batch))
                for job, (line, reason) in zip(batch, results):
                    if reason is None:
                        lines.append(line)
                    else:
                        failed[job[1]] = reason
                    if bar:
                        bar.update()
        except OSError as err:
            raise OSError(f'{err}\n{len(lines)} of {total} images were done '
                          f'before this; {RESUME_HINT}') from err
        finally:
            if bar:  # end its line: what follows starts on a new one
                bar.file.write('\n')
    return lines, failed


def prepare_sr_folders(gt_dir: str,
                       out_root: str,
                       scales: Sequence[int] = (8, ),
                       meta_file: str = 'meta_info_GT.txt',
                       gt_folder: Optional[str] = 'GT',
                       overwrite: bool = False,
                       progress: bool = True) -> Dict[str, int]:
    """Write ``out_root/{GT,BIx<s>_down}/*.png`` and ``out_root/<meta_file>``
    from a flat folder of GT images whose sides every scale divides.

    The ``folder`` preset with these fields; see :func:`prepare_dataset`.

    Args:
        gt_dir (str): folder of ground-truth images.
        out_root (str): output data root (a config's ``data_root``).
        scales (Sequence[int]): LR factors, e.g. (8, 16, 64).
        meta_file (str): meta-info file name.
        gt_folder (str, optional): GT copy inside ``out_root``; None to
            leave the GT where it is (PNGs; ``gt_dir`` is the data prefix).
        overwrite (bool): replace existing output files.
        progress (bool): show a progress bar.

    Returns:
        dict: number of images written per folder.
    """
    preset = DatasetPreset('folder', out_root, gt_folder, meta_file,
                           tuple(scales), recursive=False)
    return prepare_dataset(preset, gt_dir, out_root, overwrite=overwrite,
                           progress=progress)
