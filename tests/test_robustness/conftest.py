"""Fixtures for the robustness tests: a checkpoint of the demo generator
(``tiny_data`` comes from tests/conftest.py)."""
import pytest

from tests.support.tiny_glean import save_checkpoint


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory):
    """An mmengine checkpoint of configs/glean_demo.py's (untrained) model."""
    return save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'model.pth')
