"""MMagic's own tools/train.py and tools/test.py, as the installed mmagic
ships them (mmagic/.mim/tools, what ``mim train mmagic`` / ``mim test
mmagic`` run), train, resume and test configs/glean_demo.py on CPU."""
import glob
import json
import math
import os.path as osp

import pytest

from glean_plugin.run_mmagic import find_mmagic_script
from tests.support.helpers import PYTHON, data_options, run_tool

CONFIG = 'configs/glean_demo.py'
SHORT = ['default_hooks.logger.interval=1', 'train_cfg.val_interval=2',
         'default_hooks.checkpoint.interval=2']
LOSS_KEYS = ('loss_pix', 'loss_perceptual', 'loss_gan', 'loss_d_real',
             'loss_d_fake')
# mim's command line for launcher 'none' (mim/commands/train.py, test.py):
# python <mmagic>/.mim/tools/<script> CONFIG [CHECKPOINT] --launcher none ...
MIM_ARGS = ['--launcher', 'none']


def mmagic_tool(name: str, *args: str):
    """Run MMagic's shipped ``tools/<name>`` as mim does."""
    script = find_mmagic_script(f'mmagic::tools/{name}')
    proc = run_tool([PYTHON, script, *args])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def scalars(work_dir: str) -> list:
    """Records of every run's vis_data/scalars.json, oldest run first."""
    records = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        records += [json.loads(line) for line in open(path)]
    return records


@pytest.mark.slow
def test_mmagic_train_resume_test(tmp_path, tiny_data):
    work_dir = str(tmp_path / 'run')

    def train(iters, *extra):
        return mmagic_tool('train.py', CONFIG, *MIM_ARGS, '--work-dir',
                           work_dir, *extra, '--cfg-options',
                           f'train_cfg.max_iters={iters}', *SHORT,
                           *data_options(tiny_data))

    train(2)
    records = scalars(work_dir)
    losses = [r for r in records if 'loss_pix' in r]
    assert [r['step'] for r in losses] == [1, 2]
    assert all(math.isfinite(r[k]) for r in losses for k in LOSS_KEYS)
    val_psnr = [r['PSNR'] for r in records if 'PSNR' in r]
    assert len(val_psnr) == 1 and math.isfinite(val_psnr[0])
    ckpt = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)
    assert open(osp.join(work_dir, 'last_checkpoint')).read().strip() == ckpt

    proc = train(3, '--resume')
    log = proc.stdout + proc.stderr
    assert f'Auto resumed from the latest checkpoint {ckpt}' in log
    assert 'resumed epoch: 0, iter: 2' in log
    steps = [r['step'] for r in scalars(work_dir) if 'loss_pix' in r]
    assert steps == [1, 2, 3]
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))

    # the iteration-2 checkpoint reproduces its validation
    test_dir = str(tmp_path / 'test')
    out = str(tmp_path / 'metrics.pkl')
    mmagic_tool('test.py', CONFIG, ckpt, *MIM_ARGS, '--work-dir', test_dir,
                '--out', out, '--cfg-options', *data_options(tiny_data))
    assert osp.isfile(out)
    runs = glob.glob(osp.join(test_dir, '*', '*.json'))
    assert len(runs) == 1, runs
    metrics = json.load(open(runs[0]))
    assert {'MAE', 'PSNR', 'SSIM'} <= set(metrics)
    assert abs(metrics['PSNR'] - val_psnr[0]) < 1e-4


def test_mmagic_tools_are_shipped():
    """The test above runs the scripts mim runs, not this repository's
    tools/ (same names, run from the same folder)."""
    for name in ('train.py', 'test.py'):
        path = find_mmagic_script(f'mmagic::tools/{name}')
        assert path.endswith(osp.join('mmagic', '.mim', 'tools', name)), path
        assert osp.isfile(path)
