"""tools/train.py and tools/test.py end to end on CPU with the demo config."""
import glob
import json
import math
import os
import os.path as osp
import stat

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import CheckpointLoader, Runner

from tests.support.helpers import PYTHON, REPO_ROOT, data_options, run_tool
from tests.support.tiny_glean import save_checkpoint

CONFIG = 'configs/glean_demo.py'
SHORT = ['default_hooks.logger.interval=1', 'train_cfg.val_interval=2',
         'default_hooks.checkpoint.interval=2']
LOSS_KEYS = {'loss_pix', 'loss_perceptual', 'loss_gan', 'loss_d_real',
             'loss_d_fake'}
# The umask the tools run under here, and the mode it gives new files: not
# the usual 0o644, nor mkstemp's 0o600.
MASK, MASKED_FILE_MODE = 0o027, 0o640


def read_scalars(work_dir):
    """Every record of the run's scalars.json (newest run first)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    records = []
    for path in reversed(files):
        records += [json.loads(line) for line in open(path)]
    return records


def train(work_dir, data, iters, *extra):
    """Run tools/train.py under the umask ``MASK``."""
    old = os.umask(MASK)
    try:
        proc = run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir',
                         work_dir, *extra, '--cfg-options',
                         f'train_cfg.max_iters={iters}', *SHORT,
                         *data_options(data)])
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def file_mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.slow
def test_train_val_checkpoint_resume_test(tmp_path, tiny_data):
    work_dir = str(tmp_path / 'run')
    train(work_dir, tiny_data, 2)
    records = read_scalars(work_dir)
    train_recs = [r for r in records if 'loss_pix' in r]
    assert {r['step'] for r in train_recs} == {1, 2}
    for rec in train_recs:
        assert LOSS_KEYS <= set(rec)
        assert all(math.isfinite(rec[k]) for k in LOSS_KEYS)
    val_psnr = [r['PSNR'] for r in records if 'PSNR' in r][-1]
    ckpt = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)
    # written through temporary files, with the umask's mode
    assert file_mode(ckpt) == MASKED_FILE_MODE
    assert file_mode(osp.join(work_dir, 'last_checkpoint')) == \
        MASKED_FILE_MODE

    # --resume restores the iteration, the weights and the optimizer state
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    cfg.work_dir = work_dir
    cfg.resume = True
    cfg.merge_from_dict(dict(x.split('=') for x in data_options(tiny_data)))
    cfg.train_cfg.max_iters = 3
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    assert runner.iter == 2
    # as the Runner reads it (weights_only, mmengine's types allowed)
    saved = CheckpointLoader.load_checkpoint(ckpt, map_location='cpu')
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, saved['state_dict'][key]), key
    optim = runner.optim_wrapper['generator'].optimizer.state_dict()
    assert optim['state'], 'optimizer state was not restored'

    proc = train(work_dir, tiny_data, 3, '--resume')
    assert 'resumed epoch: 0, iter: 2' in proc.stdout + proc.stderr
    steps = [r['step'] for r in read_scalars(work_dir) if 'loss_pix' in r]
    assert 3 in steps

    # tools/test.py on the iteration-2 checkpoint reproduces validation
    out = str(tmp_path / 'metrics.json')
    proc = run_tool([PYTHON, 'tools/test.py', CONFIG, ckpt, '--work-dir',
                     str(tmp_path / 'test'), '--out', out, '--cfg-options',
                     *data_options(tiny_data)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.load(open(out))
    assert set(metrics) == {'MAE', 'PSNR', 'SSIM'}
    assert abs(metrics['PSNR'] - val_psnr) < 1e-4


@pytest.mark.slow
def test_test_tool_rejects_bad_arguments(tmp_path):
    proc = run_tool([PYTHON, 'tools/test.py', CONFIG,
                     str(tmp_path / 'missing.pth')])
    assert proc.returncode == 2
    assert 'checkpoint not found' in proc.stderr
    assert 'Traceback' not in proc.stderr
    proc = run_tool([PYTHON, 'tools/test.py', CONFIG, CONFIG, '--out',
                     'metrics.txt'])
    assert proc.returncode == 2 and '--out must end with' in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='checks the refusal on a machine without a GPU')
def test_amp_on_cpu_is_bad_input(tmp_path):
    """Status 2 and one error line, as every tool's bad input."""
    proc = run_tool([PYTHON, 'tools/train.py', CONFIG, '--amp', '--work-dir',
                     str(tmp_path / 'amp')])
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: ')]
    assert len(errors) == 1 and errors[0].startswith(
        'error: --amp needs a GPU'), proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr


@pytest.mark.slow
def test_test_tool_needs_no_vgg16(tmp_path, tiny_data):
    """Testing never computes the perceptual loss: tools/test.py runs with
    the config naming torchvision's VGG16 and no VGG16 file anywhere (an
    empty TORCH_HOME), and its JSON gets the umask's mode."""
    torch_home = tmp_path / 'torch_home'
    torch_home.mkdir()
    ckpt = save_checkpoint(tmp_path / 'model.pth')
    out = str(tmp_path / 'metrics.json')
    old = os.umask(MASK)
    try:
        proc = run_tool(
            [PYTHON, 'tools/test.py', CONFIG, ckpt, '--work-dir',
             str(tmp_path / 'test'), '--out', out, '--cfg-options',
             *data_options(tiny_data),
             'model.perceptual_loss.pretrained=torchvision://vgg16'],
            env=dict(TORCH_HOME=str(torch_home)))
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(json.load(open(out))) == {'MAE', 'PSNR', 'SSIM'}
    assert file_mode(out) == MASKED_FILE_MODE
    assert list(torch_home.iterdir()) == []
