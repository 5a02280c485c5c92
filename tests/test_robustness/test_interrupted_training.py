"""Training killed with SIGKILL resumes from its last checkpoint, with its
weights, optimizer and scheduler state, and no checkpoint on disk is ever
truncated (AtomicCheckpointHook)."""
import glob
import os.path as osp
import signal

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from glean_plugin.fileio import partial_files
from tests.support.helpers import REPO_ROOT
from tests.test_robustness.robustness_tools import (CONFIG, FAULTY_TRAIN,
                                                    PYTHON, data_options,
                                                    isolate_mmengine_globals,
                                                    last_checkpoint,
                                                    load_checkpoint,
                                                    read_scalars, run, start,
                                                    train_args, train_records,
                                                    wait_for)

OPTIMIZERS = ('generator', 'discriminator')


def kill(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def checkpoints(work_dir):
    return sorted(glob.glob(osp.join(work_dir, '*.pth')))


def resumed_runner(work_dir, data, monkeypatch):
    """A Runner of the demo config that has resumed from ``work_dir``."""
    isolate_mmengine_globals(monkeypatch)
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    cfg.merge_from_dict(dict(o.split('=', 1) for o in data_options(data)))
    cfg.work_dir = work_dir
    cfg.resume = True
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    return runner


def assert_same_state(runner, ckpt) -> None:
    """The runner holds the checkpoint's weights, optimizer and scheduler
    states."""
    assert runner.iter == ckpt['meta']['iter']
    model = runner.model.state_dict()
    assert model.keys() == ckpt['state_dict'].keys()
    for key, value in ckpt['state_dict'].items():
        assert torch.equal(model[key], value), key
    for name in OPTIMIZERS:
        optim = runner.optim_wrapper[name].optimizer.state_dict()
        saved = ckpt['optimizer'][name]
        assert optim['param_groups'] == saved['param_groups'], name
        assert optim['state'].keys() == saved['state'].keys() != set()
        for index, state in saved['state'].items():
            for key, value in state.items():
                assert torch.equal(optim['state'][index][key], value), key
        schedulers = runner.param_schedulers[name]
        assert [s.state_dict() for s in schedulers] == \
            ckpt['param_schedulers'][name], name


@pytest.mark.slow
def test_sigkill_after_first_checkpoint_then_resume(tmp_path, tiny_data,
                                                    monkeypatch):
    work, log = str(tmp_path / 'run'), str(tmp_path / 'first.log')
    proc = start([PYTHON, 'tools/train.py', *train_args(work, tiny_data, 40)],
                 log)
    try:
        wait_for(lambda: osp.exists(osp.join(work, 'last_checkpoint')), proc,
                 log)
    finally:
        kill(proc)

    # every checkpoint on disk is complete, and last_checkpoint names one
    assert checkpoints(work)
    saved = {path: load_checkpoint(path) for path in checkpoints(work)}
    resume_from = last_checkpoint(work)
    assert resume_from in saved
    ckpt = saved[resume_from]
    done = ckpt['meta']['iter']
    assert done >= 2 and done % 2 == 0
    first_run = {r['step']: r for r in train_records(read_scalars(work))}

    # what --resume loads is the checkpoint: weights, optimizer, scheduler
    assert_same_state(resumed_runner(work, tiny_data, monkeypatch), ckpt)

    proc = run([PYTHON, 'tools/train.py',
                *train_args(work, tiny_data, done + 2), '--resume'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'Auto resumed from the latest checkpoint {resume_from}' in \
        proc.stdout
    assert f'resumed epoch: 0, iter: {done}' in proc.stdout
    resumed = train_records(read_scalars(work))
    assert [r['step'] for r in resumed] == [done + 1, done + 2]
    for name in OPTIMIZERS:
        lr = ckpt['optimizer'][name]['param_groups'][0]['lr']
        assert resumed[0][f'{name}.lr'] == pytest.approx(lr, rel=1e-12)
        if done + 1 in first_run:  # logged before the kill
            assert first_run[done + 1][f'{name}.lr'] == pytest.approx(
                resumed[0][f'{name}.lr'], rel=1e-12)
    final = osp.join(work, f'iter_{done + 2}.pth')
    assert last_checkpoint(work) == final
    for path in checkpoints(work):
        load_checkpoint(path)
    assert load_checkpoint(final)['meta']['iter'] == done + 2


@pytest.mark.slow
def test_sigkill_while_writing_a_checkpoint(tmp_path, tiny_data):
    work, log = str(tmp_path / 'run'), str(tmp_path / 'first.log')
    marker = str(tmp_path / 'stalled')
    # keep one checkpoint: mmengine's own hook deletes it before writing the
    # next one, so a kill while writing would leave none
    keep_one = 'default_hooks.checkpoint.max_keep_ckpts=1'
    proc = start([PYTHON, FAULTY_TRAIN, '--stall-save', 'iter_4.pth',
                  '--marker', marker, '--',
                  *train_args(work, tiny_data, 6, keep_one)], log)
    try:
        wait_for(lambda: osp.exists(marker), proc, log)
    finally:
        kill(proc)

    # killed between writing iter_4's temporary file and renaming it
    partial = partial_files(work)
    assert len(partial) == 1 and partial[0].startswith('.iter_4.pth.')
    assert checkpoints(work) == [osp.join(work, 'iter_2.pth')]
    assert last_checkpoint(work) == osp.join(work, 'iter_2.pth')
    assert load_checkpoint(osp.join(work, 'iter_2.pth'))['meta']['iter'] == 2

    proc = run([PYTHON, 'tools/train.py',
                *train_args(work, tiny_data, 4, keep_one), '--resume'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 0, iter: 2' in proc.stdout
    assert f'Removed {partial[0]}' in proc.stdout
    assert [r['step'] for r in train_records(read_scalars(work))] == [3, 4]
    assert partial_files(work) == []
    assert last_checkpoint(work) == osp.join(work, 'iter_4.pth')
    assert load_checkpoint(osp.join(work, 'iter_4.pth'))['meta']['iter'] == 4
    assert not osp.exists(osp.join(work, 'iter_2.pth'))  # max_keep_ckpts=1
