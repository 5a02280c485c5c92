"""Fixtures for the end-to-end tool tests: a tiny demo data set."""
import os
import subprocess
import sys

import pytest

from glean_plugin.datasets import build_demo_dataset
from helpers import REPO_ROOT


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """data/demo layout with 8 training and 2 held-out 32x32 faces."""
    root = str(tmp_path_factory.mktemp('data') / 'demo')
    build_demo_dataset(root, train_faces=8, val_faces=2, train_crops=1)
    return root


def data_options(root):
    """--cfg-options pointing configs/glean_demo.py at ``root``."""
    return [
        f'train_dataloader.dataset.data_root={root}/train',
        f'val_dataloader.dataset.data_root={root}/val',
        f'test_dataloader.dataset.data_root={root}/val',
    ]


def run_tool(args, timeout=600, env=None):
    """Run a command from the repository root; return the finished process."""
    # the launch scripts call ${PYTHON:-python}: use this interpreter (the
    # project's venv), which need not be first on PATH
    full_env = dict(os.environ, PYTHONWARNINGS='ignore', PYTHON=sys.executable,
                    **(env or {}))
    # one OpenMP thread per subprocess: on a busy 2-core machine threads of
    # concurrent processes otherwise fight (several times slower)
    full_env.setdefault('OMP_NUM_THREADS', '1')
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


PYTHON = sys.executable
