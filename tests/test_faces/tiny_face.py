"""A tiny GLEAN face model (128 -> 256, reduced channel table) written as a
config and a checkpoint into a test's folder: the astronaut's aligned face
crop (about 180 photo pixels) fits its input without being skipped."""
import os.path as osp
from typing import Tuple

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from glean_plugin.registry import MODELS
from tests.support.helpers import REPO_ROOT, randomize_state_dict

IN_SIZE, OUT_SIZE = 128, 256
SCALE = OUT_SIZE // IN_SIZE
CONFIG_TEXT = f"""_base_ = {osp.join(REPO_ROOT, 'configs', 'glean_demo.py')!r}
model = dict(
    generator=dict(in_size={IN_SIZE}, out_size={OUT_SIZE}, style_channels=16,
                   max_channels=16, rrdb_channels=16, num_rrdbs=1),
    discriminator=dict(in_size={OUT_SIZE}))
"""


def write_tiny_face_model(folder: str) -> Tuple[str, str]:
    """Write ``tiny_face.py`` and ``tiny_face.pth`` into ``folder``.

    Returns:
        tuple[str, str]: the config and checkpoint paths.
    """
    config = osp.join(str(folder), 'tiny_face.py')
    with open(config, 'w') as f:
        f.write(CONFIG_TEXT)
    init_default_scope('mmagic')
    torch.manual_seed(0)
    generator = MODELS.build(Config.fromfile(config).model.generator)
    # noisy biases: the output then depends clearly on the input
    state = randomize_state_dict(generator.state_dict())
    checkpoint = osp.join(str(folder), 'tiny_face.pth')
    torch.save({'state_dict': {f'generator.{k}': v for k, v in state.items()},
                'meta': {}}, checkpoint)
    return config, checkpoint
