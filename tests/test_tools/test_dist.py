"""tools/dist_train.sh with 2 CPU ranks (gloo), then tools/test.py."""
import json
import os.path as osp
import socket

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from tests.support.helpers import PYTHON, REPO_ROOT, data_options, run_tool
from tests.test_tools.test_train_test import CONFIG, SHORT, read_scalars


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


@pytest.mark.slow
def test_two_rank_training_checkpoint_reloads(tmp_path, tiny_data):
    work_dir = str(tmp_path / 'dist')
    proc = run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
                     work_dir, '--cfg-options', 'train_cfg.max_iters=2',
                     *SHORT, *data_options(tiny_data)],
                    env={'PORT': _free_port()})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = osp.join(work_dir, 'iter_2.pth')
    keys = CheckpointLoader.load_checkpoint(  # weights_only, restricted
        ckpt, map_location='cpu')['state_dict']
    assert not [k for k in keys if '.module.' in k]
    val_psnr = [r['PSNR'] for r in read_scalars(work_dir) if 'PSNR' in r][-1]

    # --resume from the distributed checkpoint restores its weights
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    cfg.work_dir = work_dir
    cfg.resume = True
    cfg.merge_from_dict(dict(x.split('=') for x in data_options(tiny_data)))
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    assert runner.iter == 2
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, keys[key]), key

    out = str(tmp_path / 'metrics.json')
    proc = run_tool([PYTHON, 'tools/test.py', CONFIG, ckpt, '--work-dir',
                     str(tmp_path / 'test'), '--out', out, '--cfg-options',
                     *data_options(tiny_data)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert abs(json.load(open(out))['PSNR'] - val_psnr) < 1e-4
