"""``tools/test.py --save-images DIR``: each prediction as a PNG, written
atomically, never replacing a file without ``--overwrite``
(``glean_plugin.engine.SaveImagesHook``)."""
import os
import os.path as osp
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from mmagic.structures import DataSample

from glean_plugin.apis import (InferenceSettings, init_generator, read_image,
                               super_resolve)
from glean_plugin.engine import SaveImagesHook
from glean_plugin.engine.outputs import prediction_image
from glean_plugin.fileio import partial_files
from tests.support.helpers import PYTHON, data_options, run_tool
from tests.support.tiny_glean import CONFIG, save_checkpoint
from tests.support.tool_runs import run_tool_in_process

VAL_NAMES = ('face098_0.png', 'face099_0.png')  # tiny_data's held-out faces


def _sample(pred: torch.Tensor, gt_path: str) -> DataSample:
    sample = DataSample(metainfo=dict(gt_path=gt_path,
                                      img_path='/lr/' + osp.basename(gt_path)))
    sample.output = DataSample(pred_img=pred)
    return sample


class _Dataset:
    """The part of an mmengine dataset the hook reads: the file names."""

    def __init__(self, gt_paths) -> None:
        self.infos = [dict(gt_path=p) for p in gt_paths]

    def __len__(self) -> int:
        return len(self.infos)

    def get_data_info(self, index: int) -> dict:
        return self.infos[index]


def _runner(gt_paths=()):
    """The parts of a Runner the hook reads (MMagic's MultiTestLoop)."""
    loader = SimpleNamespace(dataset=_Dataset(gt_paths))
    return SimpleNamespace(test_loop=SimpleNamespace(dataloaders=[loader]))


def test_prediction_image_is_rgb_uint8():
    bgr = torch.tensor([[[10.4]], [[20.6]], [[300.0]]])  # B, G, R
    np.testing.assert_array_equal(prediction_image(bgr), [[[255, 21, 10]]])


def test_hook_writes_and_refuses_to_replace(tmp_path):
    out = tmp_path / 'sr'
    hook = SaveImagesHook(str(out))
    runner = _runner(['/gt/a.png', '/gt/b.jpg'])
    hook.before_test(runner)
    pred = torch.full((3, 4, 5), 100.0)
    hook.after_test_iter(runner, 0, outputs=[_sample(pred, '/gt/a.png'),
                                             _sample(pred, '/gt/b.jpg')])
    assert sorted(os.listdir(out)) == ['a.png', 'b.png']
    assert iio.imread(out / 'a.png').shape == (4, 5, 3)
    stamp = os.stat(out / 'a.png').st_mtime_ns

    again = SaveImagesHook(str(out))
    with pytest.raises(FileExistsError, match=r"a\.png' exists .*'/gt/a\."
                       r"png'.*--overwrite"):
        again.before_test(runner)
    assert os.stat(out / 'a.png').st_mtime_ns == stamp

    replace = SaveImagesHook(str(out), overwrite=True)
    replace.before_test(runner)
    replace.after_test_iter(runner, 0, outputs=[_sample(pred * 0,
                                                        '/gt/a.png')])
    assert iio.imread(out / 'a.png').max() == 0
    assert partial_files(str(out)) == []


def test_two_samples_of_one_stem_are_refused(tmp_path):
    hook = SaveImagesHook(str(tmp_path), overwrite=True)
    pred = torch.zeros(3, 2, 2)
    hook.after_test_iter(None, 0, outputs=[_sample(pred, '/x/a.png')])
    with pytest.raises(FileExistsError, match=r"'/x/a\.png' and '/y/a\.jpg'"
                       r" would both be written"):
        hook.after_test_iter(None, 1, outputs=[_sample(pred, '/y/a.jpg')])


def test_a_file_as_folder_is_refused(tmp_path):
    path = tmp_path / 'file'
    path.write_text('x')
    with pytest.raises(FileExistsError, match='is a file, expected a folder'):
        SaveImagesHook(str(path)).before_test(_runner())


@pytest.mark.slow
def test_test_tool_saves_each_prediction(tmp_path, tiny_data, monkeypatch,
                                         capsys):
    """End to end on configs/glean_demo.py: the PNGs are the model's
    outputs (as the inference API computes them), a second run refuses to
    replace them, naming the file, and keeps them."""
    ckpt = save_checkpoint(tmp_path / 'model.pth')
    out = tmp_path / 'sr'
    command = [PYTHON, 'tools/test.py', CONFIG, ckpt, '--work-dir',
               str(tmp_path / 'work'), '--save-images', str(out),
               '--cfg-options', *data_options(tiny_data)]
    proc = run_tool(command)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(os.listdir(out)) == sorted(VAL_NAMES)

    generator = init_generator(CONFIG, ckpt, 'cpu')
    settings = InferenceSettings.from_config(CONFIG)
    for name in VAL_NAMES:
        lr = read_image(osp.join(tiny_data, 'val', 'BIx4_down', name))
        (expected, ) = super_resolve(generator, [lr], settings)
        saved = iio.imread(out / name)
        assert saved.shape == expected.shape == (32, 32, 3)
        diff = np.abs(saved.astype(int) - expected.astype(int))
        assert diff.max() <= 1 and diff.mean() < 0.05, diff.max()
        assert not np.array_equal(saved[..., 0], saved[..., 2])

    before = {n: (out / n).read_bytes() for n in VAL_NAMES}
    # the same command again, run in this process (it stops before testing)
    status, _, err = run_tool_in_process('test', command[2:], monkeypatch,
                                         capsys)
    assert status == 2, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith('error: ')]
    assert len(errors) == 1 and VAL_NAMES[0] in errors[0] and \
        '--overwrite' in errors[0], err[-3000:]
    assert {n: (out / n).read_bytes() for n in VAL_NAMES} == before
