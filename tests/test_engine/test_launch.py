"""FiniteLossHook in every training run, whatever a leaf config's
custom_hooks say (end to end with a NaN loss: test_robustness/test_nan_loss).
"""
import os
import os.path as osp

import pytest
from mmengine.config import Config

from glean_plugin.engine import FiniteLossHook
from glean_plugin.engine.config import add_finite_loss_hook, load_tool_config
from tests.support.helpers import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs', 'glean_demo.py')
# A leaf that sets its own custom_hooks: mmengine's inheritance replaces the
# base list, FiniteLossHook included.
LEAF = (f'_base_ = {CONFIG!r}\n'
        "custom_hooks = [dict(type='EmptyCacheHook', after_iter=True)]\n")


def _types(cfg: Config) -> list:
    return [h['type'] if isinstance(h, dict) else h for h in cfg.custom_hooks]


def test_leaf_custom_hooks_drop_the_base_list(tmp_path):
    """The problem: without the tools, the leaf has no FiniteLossHook."""
    leaf = tmp_path / 'leaf.py'
    leaf.write_text(LEAF)
    assert _types(Config.fromfile(str(leaf))) == ['EmptyCacheHook']


def test_tools_add_the_hook_to_a_leaf(tmp_path):
    leaf = tmp_path / 'leaf.py'
    leaf.write_text(LEAF)
    cfg = load_tool_config(str(leaf), 'none', work_dir=str(tmp_path / 'w'))
    assert _types(cfg) == ['EmptyCacheHook', 'FiniteLossHook']


@pytest.mark.parametrize('hook', [
    dict(type='FiniteLossHook'), dict(type='glean_plugin.FiniteLossHook'),
    dict(type=FiniteLossHook), FiniteLossHook()
], ids=['name', 'scoped name', 'class', 'instance'])
def test_present_hook_is_not_added_twice(hook):
    cfg = Config(dict(custom_hooks=[hook]))
    assert add_finite_loss_hook(cfg) is False
    assert len(cfg.custom_hooks) == 1


@pytest.mark.parametrize('hooks', [None, []], ids=['missing', 'empty'])
def test_config_without_hooks_gets_it(hooks):
    cfg = Config(dict() if hooks is None else dict(custom_hooks=hooks))
    assert add_finite_loss_hook(cfg) is True
    assert _types(cfg) == ['FiniteLossHook']


def test_base_config_keeps_one(tmp_path):
    cfg = load_tool_config(CONFIG, 'none', work_dir=str(tmp_path / 'w'))
    assert _types(cfg) == ['FiniteLossHook']


def test_train_and_test_share_the_runner_arguments(monkeypatch):
    import argparse

    from glean_plugin.engine.args import add_runner_arguments, runner_config
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_runner_arguments(parser, 'logs')
    args = parser.parse_args([CONFIG, '--local_rank', '3', '--cfg-options',
                              'train_cfg.max_iters=7'])
    assert (args.work_dir, args.launcher, args.local_rank) == \
        (None, 'none', 3)
    assert parser.parse_args([CONFIG, '--local-rank', '1']).local_rank == 1
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    cfg = runner_config(args)
    assert os.environ['LOCAL_RANK'] == '3'
    assert cfg.train_cfg.max_iters == 7
    assert cfg.work_dir == osp.join('./work_dirs', 'glean_demo')
