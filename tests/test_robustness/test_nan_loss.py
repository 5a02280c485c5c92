"""A NaN loss stops training (FiniteLossHook) before the broken weights are
saved; the last good checkpoint stays intact and loads."""
import os
import os.path as osp

import pytest
import torch

from glean_plugin.apis import init_generator
from glean_plugin.fileio import partial_files
from tests.support.helpers import REPO_ROOT
from tests.test_robustness.robustness_tools import (CONFIG, FAULTY_TRAIN,
                                                    PYTHON, assert_error,
                                                    last_checkpoint,
                                                    load_checkpoint,
                                                    read_scalars, run,
                                                    train_args, train_records)


@pytest.mark.slow
def test_nan_loss_stops_training_and_keeps_the_last_checkpoint(
        tmp_path, tiny_data):
    work = str(tmp_path / 'run')
    # iteration 4 would be checkpointed (every 2): its forward gives NaN
    proc = run([PYTHON, FAULTY_TRAIN, '--nan-at', '4', '--',
                *train_args(work, tiny_data, 6)])
    good = osp.join(work, 'iter_2.pth')
    assert_error(proc.returncode, proc.stderr,
                 'became NaN or Inf at iteration 4', 'loss_pix=nan',
                 'training stopped without saving these weights',
                 f'the last checkpoint, {good}, is intact',
                 expected_status=1)

    assert sorted(n for n in os.listdir(work) if n.endswith('.pth')) == [
        'iter_2.pth']
    assert last_checkpoint(work) == good
    assert partial_files(work) == []
    steps = [r['step'] for r in train_records(read_scalars(work))]
    assert steps == [1, 2, 3]
    ckpt = load_checkpoint(good)
    assert ckpt['meta']['iter'] == 2
    for key, value in ckpt['state_dict'].items():
        assert torch.isfinite(value).all(), key
    generator = init_generator(CONFIG, good, 'cpu')  # strict load
    assert all(torch.isfinite(p).all() for p in generator.parameters())


@pytest.mark.slow
def test_leaf_with_its_own_custom_hooks_still_stops(tmp_path, tiny_data):
    """mmengine's inheritance replaces custom_hooks: the tools add
    FiniteLossHook back, so a leaf's own hooks do not switch it off."""
    leaf = tmp_path / 'leaf.py'
    leaf.write_text(f'_base_ = {osp.join(REPO_ROOT, CONFIG)!r}\n'
                    "custom_hooks = [dict(type='EmptyCacheHook')]\n")
    work = str(tmp_path / 'run')
    args = train_args(work, tiny_data, 2)
    proc = run([PYTHON, FAULTY_TRAIN, '--nan-at', '2', '--', str(leaf),
                *args[1:]])
    assert_error(proc.returncode, proc.stderr,
                 'became NaN or Inf at iteration 2', expected_status=1)
    assert not osp.exists(osp.join(work, 'iter_2.pth'))
