"""Fixtures for the robustness tests: a tiny demo data set and a checkpoint
of the demo generator."""
import pytest

from glean_plugin.datasets import build_demo_dataset
from test_apis.tiny_glean import save_checkpoint


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """data/demo layout with 8 training and 2 held-out 32x32 faces."""
    root = str(tmp_path_factory.mktemp('data') / 'demo')
    build_demo_dataset(root, train_faces=8, val_faces=2, train_crops=1)
    return root


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory):
    """An mmengine checkpoint of configs/glean_demo.py's (untrained) model."""
    return save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'model.pth')
