"""Shared fixtures for the glean_plugin test suite.

Every test runs on CPU by default; set ``GLEAN_TEST_DEVICE`` (e.g. ``cuda``)
to run the plugin's own modules on another device. MMagic's reference modules
always run on CPU: without compiled mmcv ops their CUDA path cannot run.
"""
import os

import pytest
import torch

import glean_plugin  # noqa: F401  (installs the mmcv._ext placeholder first)
from glean_plugin.datasets import build_demo_dataset
from tests.support.helpers import randomize_state_dict
from tests.support.tool_runs import dropin_undone

# The tiny car model's fixtures (car, generator), for every folder.
pytest_plugins = ('tests.support.tiny_car', )

DEVICE_ENV = 'GLEAN_TEST_DEVICE'


def pytest_configure(config):
    """Under pytest-xdist (``make test``: one worker per core), each worker
    takes its share of torch's default threads (one per core): with all of
    them in every worker, the workers' threads fight, several times slower."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '0') or 0)
    if workers > 1:
        torch.set_num_threads(max(1, torch.get_num_threads() // workers))


@pytest.fixture(scope='session')
def device() -> torch.device:
    """The device the plugin's modules run on (env GLEAN_TEST_DEVICE)."""
    dev = torch.device(os.environ.get(DEVICE_ENV, 'cpu'))
    if dev.type == 'cuda' and not torch.cuda.is_available():
        pytest.fail(f'{DEVICE_ENV}={dev} but CUDA is not available')
    return dev


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same RNG state."""
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _no_dropin_left_behind():
    """A test importing glean_plugin.dropin in this process (an in-process
    tool run) leaves MMagic's names as they were (see ``dropin_undone``)."""
    with dropin_undone():
        yield


@pytest.fixture
def randomize():
    """``randomize(state_dict, seed=0)``: see
    ``tests.support.helpers.randomize_state_dict``."""
    return randomize_state_dict


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """data/demo layout with 8 training and 2 held-out 32x32 faces."""
    root = str(tmp_path_factory.mktemp('data') / 'demo')
    build_demo_dataset(root, train_faces=8, val_faces=2, train_crops=1)
    return root
