"""A tiny rectangular GLEAN: ``configs/glean_car_8x.py`` with a reduced
channel table and the car's shapes divided by 8 (6x8 -> 48x64, height x
width), written as a config file and a checkpoint for the tools.

Import as ``from tests.support.tiny_car import ...``.
"""
import functools
import os.path as osp
from typing import Dict

import pytest
import torch

from glean_plugin.models import GLEANNet
from tests.support.helpers import REPO_ROOT, randomize_state_dict

CAR_CONFIG = osp.join(REPO_ROOT, 'configs', 'glean_car_8x.py')
# (height, width): the car's 48x64 -> 384x512 divided by 8
IN_SHAPE, OUT_SHAPE = (6, 8), (48, 64)
SCALE = OUT_SHAPE[0] // IN_SHAPE[0]
# the square GLEAN the rectangular one pads into: 8 -> 64
TINY_GENERATOR = dict(in_size=8, out_size=64, style_channels=16,
                      num_rrdbs=1, rrdb_channels=8, max_channels=16)


@functools.lru_cache(maxsize=None)
def _generator_state() -> Dict[str, torch.Tensor]:
    torch.manual_seed(0)
    # noisy biases: outputs then depend clearly on the input
    return randomize_state_dict(GLEANNet(**TINY_GENERATOR).state_dict())


def write_config(folder: str) -> str:
    """``folder/tiny_car.py``: glean_car_8x with the tiny generator."""
    generator = dict(TINY_GENERATOR, in_shape=IN_SHAPE, init_cfg=None)
    path = osp.join(str(folder), 'tiny_car.py')
    with open(path, 'w') as f:
        f.write(f'_base_ = {CAR_CONFIG!r}\n'
                f'model = dict(generator={generator!r})\n')
    return path


def save_checkpoint(path: str) -> str:
    """The tiny generator's weights as an mmengine checkpoint."""
    state = {f'generator.{k}': v for k, v in _generator_state().items()}
    torch.save({'state_dict': state, 'meta': {}}, str(path))
    return str(path)


# uint8 outputs of mathematically equal computations may round apart by one
ROUNDING = 1


@pytest.fixture(scope='module')
def car(tmp_path_factory):
    """(config, checkpoint) of the tiny car model (a fixture of every test)."""
    folder = tmp_path_factory.mktemp('car')
    return write_config(folder), save_checkpoint(folder / 'car.pth')


@pytest.fixture(scope='module')
def generator(car):
    """The tiny car generator, loaded as the tools load it."""
    from glean_plugin.apis import init_generator
    return init_generator(*car, device='cpu')


def image(h: int, w: int, seed: int = 0):
    """A uint8 (h, w, 3) random image."""
    from tests.support.tiny_glean import random_images
    return random_images(1, size=h, width=w, seed=seed)[0]
