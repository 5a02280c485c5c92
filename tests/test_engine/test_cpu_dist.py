"""The tools' CPU distributed set-up and tear-down (engine/cpu_dist.py), in a
one-rank gloo group in this process; tools/dist_train.sh with two ranks is
tests/test_tools/test_dist.py."""
import pytest
import torch.distributed as dist
from mmengine.config import Config

from glean_plugin.engine.cpu_dist import (finish_distributed,
                                          init_cpu_distributed)
from tests.test_tools.test_dist import _free_port


@pytest.fixture
def one_rank_env(monkeypatch):
    """What torchrun sets for a one-rank run."""
    for key, value in dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=_free_port(),
                           RANK='0', LOCAL_RANK='0', WORLD_SIZE='1').items():
        monkeypatch.setenv(key, value)
    yield
    if dist.is_initialized():  # a failed assertion left the group
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason='no torch.distributed')
@pytest.mark.parametrize('cfg_dict', [
    dict(), dict(env_cfg=dict(cudnn_benchmark=False)),
    dict(env_cfg=dict(cudnn_benchmark=False, dist_cfg=dict(backend='nccl')))
], ids=['no-env_cfg', 'no-dist_cfg', 'nccl'])
def test_group_started_on_cpu_and_destroyed_at_the_end(cfg_dict,
                                                       one_rank_env,
                                                       monkeypatch):
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    cfg = Config(cfg_dict)
    assert not init_cpu_distributed(cfg, 'none')  # not a distributed run
    assert not dist.is_initialized()
    assert init_cpu_distributed(cfg, 'pytorch')
    assert dist.is_initialized() and dist.get_backend() == 'gloo'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    if cfg_dict:
        assert cfg.env_cfg.cudnn_benchmark is False  # the rest is kept
    # already initialised (e.g. by the Runner): left alone
    assert not init_cpu_distributed(cfg, 'pytorch')

    assert finish_distributed()
    assert not dist.is_initialized()
    assert not finish_distributed()  # nothing left to destroy
