"""GLEANSeparateDDP: checkpoints of distributed runs load back."""
import socket

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.runner.checkpoint import load_state_dict

from glean_plugin.engine import GLEANSeparateDDP, strip_ddp_keys


def test_strip_ddp_keys():
    state = {'generator.module.a.weight': 1, 'generator.b': 2,
             'discriminator.module.c': 3, 'other.module.d': 4}
    strip_ddp_keys(state, ['generator', 'discriminator'])
    assert state == {'generator.a.weight': 1, 'generator.b': 2,
                     'discriminator.c': 3, 'other.module.d': 4}
    prefixed = {'model.generator.module.x': 1}
    strip_ddp_keys(prefixed, ['generator'], prefix='model.')
    assert prefixed == {'model.generator.x': 1}


class _GAN(nn.Module):

    def __init__(self):
        super().__init__()
        self.generator = nn.Linear(3, 4)
        self.discriminator = nn.Linear(4, 1)
        self.frozen = nn.Linear(2, 2).requires_grad_(False)


@pytest.fixture
def process_group():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_checkpoint_round_trip_without_module_infix(process_group):
    model = _GAN()
    wrapper = GLEANSeparateDDP(model, device_ids=[0])
    assert isinstance(model.generator, nn.parallel.DistributedDataParallel)
    assert not isinstance(model.frozen, nn.parallel.DistributedDataParallel)
    saved = model.state_dict()
    assert set(saved) == {'generator.weight', 'generator.bias',
                          'discriminator.weight', 'discriminator.bias',
                          'frozen.weight', 'frozen.bias'}

    # what the runner does on --resume / load_from: mmengine's loader
    fresh = _GAN()
    fresh_wrapper = GLEANSeparateDDP(fresh)
    load_state_dict(fresh_wrapper.module, saved, strict=True)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, saved[key]), key

    # an MMagic-made checkpoint that still has '.module.' also loads
    legacy = {k.replace('generator.', 'generator.module.'): v + 1
              for k, v in saved.items()}
    load_state_dict(fresh_wrapper.module, legacy, strict=True)
    assert torch.equal(fresh.generator.module.weight,
                       saved['generator.weight'] + 1)
    del wrapper
