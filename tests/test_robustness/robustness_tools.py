"""Helpers of the robustness tests: running the tools (in this process or as
subprocesses) and reading what a training run left behind.

Running a tool in this process: ``tests.support.tool_runs`` (re-exported
here for the robustness tests).
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Callable, List, Sequence

from mmengine.runner import CheckpointLoader

from tests.support.helpers import REPO_ROOT
from tests.support.tool_runs import (  # noqa: F401  (re-exported)
    isolate_mmengine_globals, run_tool_in_process)

PYTHON = sys.executable
CONFIG = 'configs/glean_demo.py'
FAULTY_TRAIN = osp.join(osp.dirname(osp.abspath(__file__)), 'faulty_train.py')
# Short runs: log every iteration, checkpoint every 2, validate at the end.
SHORT = ['default_hooks.logger.interval=1',
         'default_hooks.checkpoint.interval=2', 'train_cfg.val_interval=1000']
LOSS_KEYS = ('loss_pix', 'loss_perceptual', 'loss_gan', 'loss_d_real',
             'loss_d_fake')
POLL_SECONDS = 0.05


def data_options(root: str) -> List[str]:
    """--cfg-options pointing configs/glean_demo.py at ``root``."""
    return [f'train_dataloader.dataset.data_root={root}/train',
            f'val_dataloader.dataset.data_root={root}/val',
            f'test_dataloader.dataset.data_root={root}/val']


def train_args(work_dir: str, data: str, iters: int,
               *options: str) -> List[str]:
    """tools/train.py arguments for a short demo run."""
    return [CONFIG, '--work-dir', str(work_dir), '--cfg-options',
            f'train_cfg.max_iters={iters}', *SHORT, *data_options(data),
            *options]


def _env() -> dict:
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    # one OpenMP thread: on a shared, busy CPU, several threads per process
    # spin against each other and a 4-iteration run takes 30 s instead of 8
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def run(args: Sequence[str], timeout: float = 300
        ) -> subprocess.CompletedProcess:
    """Run a command from the repository root and wait for it."""
    return subprocess.run([str(a) for a in args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env=_env())


def start(args: Sequence[str], log: str) -> subprocess.Popen:
    """Start a command from the repository root, its output going to
    ``log`` (a file: a pipe nobody reads could block it)."""
    out = open(log, 'w')
    return subprocess.Popen([str(a) for a in args], cwd=REPO_ROOT,
                            stdout=out, stderr=subprocess.STDOUT, env=_env())


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen,
             log: str, timeout: float = 240) -> None:
    """Wait until ``condition()`` holds; fail if ``proc`` ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f'the process ended (rc={proc.returncode}) '
                                 f'first:\n{open(log).read()[-3000:]}')
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f'timed out:\n{open(log).read()[-3000:]}')
        time.sleep(POLL_SECONDS)


def read_scalars(work_dir: str, newest: bool = True) -> List[dict]:
    """The records of a run's scalars.json: the newest run, or all runs
    oldest first."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    records = []
    for path in files[-1:] if newest else files:
        with open(path) as f:
            records += [json.loads(line) for line in f]
    return records


def train_records(records: List[dict]) -> List[dict]:
    """The training-iteration records (those with losses)."""
    return [r for r in records if 'loss_pix' in r]


def load_checkpoint(path: str) -> dict:
    """A checkpoint as the Runner reads it (weights_only, with the types of
    mmengine's checkpoints allowed)."""
    return CheckpointLoader.load_checkpoint(path, map_location='cpu')


def last_checkpoint(work_dir: str) -> str:
    """What ``work_dir/last_checkpoint`` points to."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def assert_error(status: int, err: str, *fragments: str,
                 expected_status: int = 2) -> None:
    """A tool's failure: the status, no traceback, one ``error:`` line that
    holds every fragment."""
    assert status == expected_status, err[-3000:]
    assert 'Traceback' not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith('error: ')]
    assert len(lines) == 1, err[-3000:]
    message = err[err.index('error: '):]
    for fragment in fragments:
        assert fragment in message, (fragment, err[-3000:])
