"""Reading pickles without their code, writing checkpoints atomically."""
import collections
import os
import pickle

import pytest
import torch
import torch.nn as nn

from glean_plugin.checkpoint import CheckpointMismatchError
from glean_plugin.converters import (PersistentObject, load_stylegan2_source,
                                     module_state, save_checkpoint)
from tests.support import stylegan2_sources as src


class _Foreign:
    """Pickles as a call of collections.Counter, which is not allowed."""

    def __reduce__(self):
        return (collections.Counter, ('abc', ))


def test_foreign_globals_are_refused_by_name(tmp_path):
    path = str(tmp_path / 'foreign.pkl')
    with open(path, 'wb') as f:
        pickle.dump({'G_ema': _Foreign()}, f)
    with pytest.raises(CheckpointMismatchError,
                       match='asks for the global collections.Counter'):
        load_stylegan2_source(path)


def test_torch_save_files_load_in_both_formats(tmp_path):
    state = {'w': torch.arange(6.).reshape(2, 3), 'n': 3}
    for legacy in (False, True):
        path = str(tmp_path / f'{legacy}.pt')
        torch.save(state, path, _use_new_zipfile_serialization=not legacy)
        loaded = load_stylegan2_source(path)
        assert torch.equal(loaded['w'], state['w']) and loaded['n'] == 3


def test_unreadable_and_missing_files(tmp_path):
    path = tmp_path / 'junk.pkl'
    path.write_bytes(b'not a pickle')
    with pytest.raises(CheckpointMismatchError, match='could not read'):
        load_stylegan2_source(str(path))
    with pytest.raises(FileNotFoundError, match='not found'):
        load_stylegan2_source(str(tmp_path / 'missing.pkl'))


def test_persistent_objects_keep_state_and_attributes(tmp_path):
    path = str(tmp_path / 'net.pkl')
    state = {'fc0.weight': torch.randn(2, 2), 'fc0.bias': torch.zeros(2),
             'b4.resample_filter': torch.ones(4, 4)}
    attrs = {'fc0': dict(bias_gain=0.01, activation='lrelu'),
             'mbstd': dict(group_size=4)}
    with src.fake_nvidia_packages() as (reconstruct, easy_dict):
        src.PersistentModule.reconstruct = reconstruct
        try:
            net = src.persistent_tree('MappingNetwork', state, attrs)
            net.register_buffer('scratch', torch.ones(1), persistent=False)
            with open(path, 'wb') as f:
                pickle.dump({'net': net, 'kw': easy_dict(a=1)}, f)
        finally:
            src.PersistentModule.reconstruct = None
    loaded = load_stylegan2_source(path)
    assert isinstance(loaded['net'], PersistentObject)
    assert loaded['net'].class_name == 'MappingNetwork'
    assert loaded['kw'] == {'a': 1}
    tensors, found = module_state(loaded['net'])
    assert set(tensors) == set(state)  # the non-persistent buffer is not
    for key, value in state.items():
        assert torch.equal(tensors[key], value)
    assert found['fc0'] == attrs['fc0'] and found['mbstd'] == attrs['mbstd']


def test_module_state_of_plain_modules_and_non_modules():
    net = nn.Sequential(nn.Linear(2, 3))
    tensors, _ = module_state(net)
    assert set(tensors) == set(net.state_dict())
    with pytest.raises(CheckpointMismatchError, match='G_ema is a dict, not'):
        module_state({'a': 1}, 'G_ema')


def test_save_refuses_to_overwrite_and_leaves_no_temporary(tmp_path):
    path = tmp_path / 'out.pth'
    path.write_bytes(b'old')
    with pytest.raises(FileExistsError, match='--overwrite'):
        save_checkpoint({'state_dict': {}}, str(path))
    assert path.read_bytes() == b'old'
    save_checkpoint({'state_dict': {'a': torch.ones(1)}}, str(path),
                    overwrite=True)
    assert torch.equal(torch.load(str(path))['state_dict']['a'], torch.ones(1))
    with pytest.raises(ValueError, match='is a directory'):
        save_checkpoint({}, str(tmp_path))
    assert os.listdir(tmp_path) == ['out.pth']


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / 'out.pth'
    path.write_bytes(b'old')
    with pytest.raises(Exception):
        save_checkpoint({'bad': lambda: None}, str(path), overwrite=True)
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['out.pth']
