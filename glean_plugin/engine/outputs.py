"""What a test run writes besides the log: the metrics as JSON
(``tools/test.py --out x.json``) and each prediction as a PNG
(``tools/test.py --save-images DIR``), every file through
``fileio.atomic_open``."""
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from ..fileio import write_json_atomic
from ..image import MAX_VALUE, PNG_EXTENSION, write_png_atomic
from ..registry import HOOKS
from .config import check_output_dir

__all__ = ['MetricsJsonHook', 'SaveImagesHook']

# Data-sample fields that name an image's source file, in order of
# preference: the output is named after it.
SOURCE_KEYS = ('gt_path', 'img_path')


class MetricsJsonHook(Hook):
    """Writes the test metrics to a JSON file (rank 0, atomically).

    Args:
        path (str): output ``.json`` file.
    """

    priority = 'LOWEST'

    def __init__(self, path: str) -> None:
        self.path = path

    def after_test_epoch(self, runner, metrics=None) -> None:
        """Dump ``metrics`` once the test loop has computed them."""
        if metrics is not None and is_main_process():
            write_json_atomic(metrics, self.path)


def _source(info: Dict) -> Optional[str]:
    return next((info[k] for k in SOURCE_KEYS if info.get(k)), None)


def _test_datasets(runner) -> list:
    """The datasets of the runner's test loop (MMagic's ``MultiTestLoop``
    has several)."""
    loop = runner.test_loop
    loaders = getattr(loop, 'dataloaders', None)
    if loaders is None:
        loaders = [getattr(loop, 'dataloader', None)]
    return [getattr(loader, 'dataset', None) for loader in loaders]


def _output_name(source: str) -> str:
    return osp.splitext(osp.basename(source))[0] + PNG_EXTENSION


def prediction_image(pred) -> np.ndarray:
    """MMagic's ``pred_img`` -> uint8 (H, W, C) RGB.

    MMagic's data preprocessor ``destruct`` s outputs to [0, 255] in BGR
    (as its metrics and visualisers read them).

    Args:
        pred (Tensor): (C, H, W), C = 1 or 3, BGR.

    Returns:
        ndarray: uint8 (H, W, C) RGB.
    """
    img = pred.detach().float().clamp(0, MAX_VALUE).round()
    img = img.byte().permute(1, 2, 0).cpu().numpy()
    if img.shape[2] == 3:
        img = img[..., ::-1]
    return np.ascontiguousarray(img)


@HOOKS.register_module()
class SaveImagesHook(Hook):
    """Writes each test prediction as ``out_dir/<source stem>.png``.

    The name comes from the sample's GT file (else its input file), so the
    outputs sit beside the data set's names. Nothing is replaced unless
    ``overwrite``: a clash with an existing file (checked for the whole data
    set before testing starts) or between two samples of one stem is a
    ``FileExistsError`` naming the file; files written before stay.

    Args:
        out_dir (str): the folder (created if needed).
        overwrite (bool): replace existing files of the same name.
    """

    priority = 'LOWEST'

    def __init__(self, out_dir: str, overwrite: bool = False) -> None:
        self.out_dir = out_dir
        self.overwrite = overwrite
        self.written: Dict[str, str] = {}

    def before_test(self, runner) -> None:
        """Check the folder and, where the data set lists its files, that
        no output would replace an existing file."""
        check_output_dir(self.out_dir, '--save-images folder')
        self.written = {}
        if self.overwrite:
            return
        for dataset in _test_datasets(runner):
            if hasattr(dataset, 'get_data_info'):
                sources = [_source(dataset.get_data_info(i))
                           for i in range(len(dataset))]
                self._refuse_existing([s for s in sources if s])

    def _refuse_existing(self, sources: Sequence[str]) -> None:
        for source in sources:
            path = osp.join(self.out_dir, _output_name(source))
            if osp.exists(path):
                raise FileExistsError(
                    f'--save-images: {path!r} exists (the prediction of '
                    f'{source!r}); pass --overwrite to replace it, or give '
                    'another folder')

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        """Write the batch's predictions."""
        for k, sample in enumerate(outputs or ()):
            source = _source(sample.metainfo) or \
                f'batch{batch_idx:06d}_{k}{PNG_EXTENSION}'
            name = _output_name(source)
            path = osp.join(self.out_dir, name)
            if name in self.written:
                raise FileExistsError(
                    f'--save-images: {self.written[name]!r} and {source!r} '
                    f'would both be written as {path!r}')
            if not self.overwrite:
                self._refuse_existing([source])
            os.makedirs(self.out_dir, exist_ok=True)
            write_png_atomic(path, prediction_image(sample.output.pred_img))
            self.written[name] = source
