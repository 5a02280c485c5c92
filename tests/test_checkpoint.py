"""Errors of glean_plugin.checkpoint that the model tests do not reach."""
import urllib.error

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

from glean_plugin.checkpoint import (CheckpointMismatchError,
                                     load_state_dict_from_file)


def test_unreachable_url_says_where_to_put_the_file(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError('no network')

    monkeypatch.setattr(CheckpointLoader, 'load_checkpoint', offline)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    url = 'https://example.org/zoo/stylegan2-cat.pth'
    with pytest.raises(CheckpointMismatchError) as err:
        load_state_dict_from_file(url, 'generator_ema')
    message = str(err.value)
    assert url in message and 'no network' in message
    assert str(tmp_path / 'checkpoints' / 'stylegan2-cat.pth') in message


def test_non_dict_checkpoint_is_refused(tmp_path):
    path = tmp_path / 'list.pth'
    torch.save([torch.zeros(1)], path)
    with pytest.raises(CheckpointMismatchError, match='holds a list'):
        load_state_dict_from_file(str(path))
