"""OpenMMLab's hash-suffixed checkpoint names (``..._20210614-d3ac8683.pth``):
loading checks the file's sha256 against the digits in its name."""
import hashlib
import os
import os.path as osp

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint

import glean_plugin.checkpoint as checkpoint_module
from glean_plugin.checkpoint import (CheckpointHashError,
                                     CheckpointMismatchError,
                                     check_hash_suffix, file_sha256,
                                     hash_suffix, load_state_dict_from_file)

URL_DIR = 'https://download.openmmlab.com/mmediting/restorers/glean/'


def _state():
    torch.manual_seed(0)
    return {'conv.weight': torch.randn(4, 3, 3, 3),
            'conv.bias': torch.randn(4)}


def _saved(folder, stem='glean_tiny_20210614'):
    """A torch.save file named ``<stem>-<its sha256[:8]>.pth``."""
    tmp = osp.join(folder, 'tmp.pth')
    torch.save(_state(), tmp)
    digest = hashlib.sha256(open(tmp, 'rb').read()).hexdigest()
    path = osp.join(folder, f'{stem}-{digest[:8]}.pth')
    os.replace(tmp, path)
    return path, digest


def _other_digits(digits):
    """8 lower-case hex digits that differ from ``digits``."""
    return ''.join('0' if c != '0' else '1' for c in digits)


@pytest.mark.parametrize('name, expected', [
    ('glean_cat_8x_20210614-d3ac8683.pth', 'd3ac8683'),
    ('/a/b-c/stylegan2-cat-config-f-official_20210327_172444-15bc485b.pth',
     '15bc485b'),
    (URL_DIR + 'glean_cat_8x_20210614-d3ac8683.pth?x=1', 'd3ac8683'),
    ('glean_cat_8x_20210614-D3AC8683.pth', None),  # upper case
    ('glean_cat_8x_20210614-d3ac868.pth', None),  # 7 digits
    ('glean_cat_8x_20210614-d3ac86831.pth', None),  # 9 digits
    ('glean_cat_8x_20210614-d3ac868g.pth', None),  # not hex
    ('glean_cat_8x_20210614_d3ac8683.pth', None),  # no '-'
    ('iter_300000.pth', None),
    ('d3ac8683.pth', None),
])
def test_hash_suffix(name, expected):
    assert hash_suffix(name) == expected


def test_file_sha256_reads_in_pieces(tmp_path, monkeypatch):
    data = os.urandom(1000)
    path = tmp_path / 'blob.bin'
    path.write_bytes(data)
    monkeypatch.setattr(checkpoint_module, 'HASH_CHUNK_BYTES', 7)
    assert file_sha256(str(path)) == hashlib.sha256(data).hexdigest()


def test_correct_hash_loads(tmp_path):
    path, _ = _saved(str(tmp_path))
    assert check_hash_suffix(path) is True
    state = load_state_dict_from_file(path)
    assert torch.equal(state['conv.weight'], _state()['conv.weight'])
    # mmengine's own entry points (load_from, --resume, tools/test.py)
    model = torch.nn.Module()
    model.conv = torch.nn.Conv2d(3, 4, 3)
    load_checkpoint(model, path, strict=True)
    assert torch.equal(model.conv.bias.data, _state()['conv.bias'])


def _assert_names_both(err, path, expected, actual):
    message = str(err)
    assert isinstance(err, CheckpointMismatchError)
    assert expected in message and actual in message
    assert repr(path) in message


def test_wrong_hash_fails_naming_both_hashes(tmp_path):
    good, digest = _saved(str(tmp_path))
    wrong = good.replace(digest[:8], _other_digits(digest[:8]))
    os.replace(good, wrong)
    with pytest.raises(CheckpointHashError) as info:
        load_state_dict_from_file(wrong)
    _assert_names_both(info.value, wrong, _other_digits(digest[:8]), digest)
    with pytest.raises(CheckpointHashError):  # through mmengine too
        CheckpointLoader.load_checkpoint(wrong)


def test_truncated_download_fails_before_loading(tmp_path):
    path, digest = _saved(str(tmp_path))
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    truncated = file_sha256(path)
    with pytest.raises(CheckpointHashError) as info:
        load_state_dict_from_file(path)
    _assert_names_both(info.value, path, digest[:8], truncated)
    assert 'truncated or wrong download' in str(info.value)


def test_hash_is_checked_before_the_file_is_read(tmp_path):
    # Not a checkpoint at all: the hash error comes first, not torch.load's.
    path = tmp_path / 'glean_cat_8x_20210614-d3ac8683.pth'
    path.write_bytes(b'<html>404 Not Found</html>')
    with pytest.raises(CheckpointHashError, match='d3ac8683'):
        load_state_dict_from_file(str(path))


@pytest.mark.parametrize('suffix', ['', '-D3AC8683', '-d3ac868', '_d3ac8683'])
def test_names_without_the_suffix_are_not_checked(tmp_path, suffix):
    path = str(tmp_path / f'glean_cat_8x_20210614{suffix}.pth')
    torch.save(_state(), path)
    assert check_hash_suffix(path) is False
    assert set(load_state_dict_from_file(path)) == set(_state())


def test_url_checks_the_hub_cache_copy(tmp_path, monkeypatch):
    # mmengine reads an http(s) checkpoint from torch's hub cache; a copy
    # placed there (the offline route) is checked before it is read, and a
    # good one loads without any download.
    monkeypatch.setattr(torch.hub, '_hub_dir', str(tmp_path / 'hub'))
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    good, digest = _saved(str(cache))
    url = URL_DIR + osp.basename(good)
    assert set(load_state_dict_from_file(url)) == set(_state())

    wrong_name = osp.basename(good).replace(digest[:8],
                                            _other_digits(digest[:8]))
    os.replace(good, cache / wrong_name)
    with pytest.raises(CheckpointHashError) as info:
        load_state_dict_from_file(URL_DIR + wrong_name)
    _assert_names_both(info.value, str(cache / wrong_name),
                       _other_digits(digest[:8]), digest)
    assert URL_DIR + wrong_name in str(info.value)


def test_installed_loaders_check_once(tmp_path, monkeypatch):
    # every mmengine scheme is wrapped once (installing again keeps it so)
    from glean_plugin.serialization import install_mmengine_checkpoint_loaders
    install_mmengine_checkpoint_loaders()
    path, _ = _saved(str(tmp_path))
    calls = []
    monkeypatch.setattr(checkpoint_module, 'file_sha256',
                        lambda p: calls.append(p) or file_sha256(p))
    CheckpointLoader.load_checkpoint(path)
    assert calls == [path]
