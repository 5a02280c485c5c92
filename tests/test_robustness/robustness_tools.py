"""Helpers of the robustness tests: running the tools (in this process or as
subprocesses) and reading what a training run left behind.

Import as ``from robustness_tools import ...`` (pytest puts this folder on
the path).
"""
import collections
import glob
import json
import os
import os.path as osp
import runpy
import subprocess
import sys
import time
from typing import Callable, List, Sequence, Tuple

from mmengine.runner import CheckpointLoader
from mmengine.utils import ManagerMixin

from tests.support.helpers import REPO_ROOT

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


def _manager_classes(cls) -> List[type]:
    found = []
    for sub in cls.__subclasses__():
        if '_instance_dict' in vars(sub):
            found.append(sub)
        found += _manager_classes(sub)
    return found


def run_tool_in_process(tool: str, args: Sequence, monkeypatch,
                        capsys) -> Tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python tools/<tool>.py args``,
    run as ``__main__`` in this process (much faster than a subprocess; an
    uncaught exception fails the test)."""
    path = osp.join(REPO_ROOT, 'tools', f'{tool}.py')
    monkeypatch.setattr(sys, 'argv', [path] + [str(a) for a in args])
    monkeypatch.chdir(REPO_ROOT)
    # as in a new process: no logger of an earlier test writing to its
    # closed capture, no name clash between runs in the same second
    isolate_mmengine_globals(monkeypatch)
    status = 0
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as exit_:
        status = exit_.code
        if isinstance(status, str):  # sys.exit('message')
            print(status, file=sys.stderr)
            status = 1
        status = status or 0
    captured = capsys.readouterr()
    return status, captured.out, captured.err


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


def isolate_mmengine_globals(monkeypatch) -> None:
    """Give mmengine's global managers (loggers, message hubs, visualizers,
    default scopes) fresh registries until the test ends."""
    for cls in _manager_classes(ManagerMixin):
        monkeypatch.setattr(cls, '_instance_dict', collections.OrderedDict())
