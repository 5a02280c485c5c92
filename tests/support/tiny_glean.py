"""A tiny GLEAN checkpoint (configs/glean_demo.py, 8 -> 32) saved straight
from a freshly built model, so that inference tests need no training.

Import as ``from tests.support.tiny_glean import ...``.
"""
import functools
import os.path as osp
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from glean_plugin.registry import MODELS
from tests.support.helpers import REPO_ROOT, randomize_state_dict

CONFIG = osp.join(REPO_ROOT, 'configs', 'glean_demo.py')
IN_SIZE, OUT_SIZE = 8, 32
SCALE = OUT_SIZE // IN_SIZE


@functools.lru_cache(maxsize=None)
def _model_state() -> Dict[str, torch.Tensor]:
    init_default_scope('mmagic')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    # noisy biases: outputs then depend clearly on the input
    return randomize_state_dict(model.state_dict())


def model_state() -> Dict[str, torch.Tensor]:
    """The whole SRGAN state dict (generator., discriminator., ...)."""
    return dict(_model_state())


def generator_state() -> Dict[str, torch.Tensor]:
    """The generator's state dict, prefix stripped."""
    head = 'generator.'
    return {k[len(head):]: v for k, v in _model_state().items()
            if k.startswith(head)}


def save_checkpoint(path: str,
                    state: Optional[Dict[str, torch.Tensor]] = None,
                    wrap: bool = True) -> str:
    """Save ``state`` (default: the whole model) as mmengine does."""
    state = model_state() if state is None else state
    torch.save({'state_dict': state, 'meta': {}} if wrap else state, path)
    return str(path)


def random_images(num: int, size: int = IN_SIZE, seed: int = 0,
                  width: Optional[int] = None) -> list:
    """``num`` uint8 (size, width or size, 3) images."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, width or size, 3), dtype=np.uint8)
            for _ in range(num)]
