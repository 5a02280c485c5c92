"""``atomic_open``: the umask decides the mode, a failed write changes
nothing and leaves no temporary file."""
import os
import stat

import pytest

from glean_plugin.fileio import (atomic_open, partial_files, refuse_existing,
                                 write_atomic)


@pytest.fixture
def umask():
    """Set the process umask for one test, restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize('mask,expected', [(0o022, 0o644), (0o077, 0o600),
                                           (0o002, 0o664)])
def test_mode_follows_umask(tmp_path, umask, mask, expected):
    umask(mask)
    path = tmp_path / 'out.bin'
    with atomic_open(str(path)) as f:
        f.write(b'abc')
    assert path.read_bytes() == b'abc'
    assert _mode(path) == expected


def test_text_mode_and_new_folder(tmp_path):
    path = tmp_path / 'sub' / 'dir' / 'out.txt'
    with atomic_open(str(path), 'w') as f:
        f.write('ä\n')
    assert path.read_text(encoding='utf-8') == 'ä\n'
    assert partial_files(str(path.parent)) == []


def test_replaces_existing_file(tmp_path):
    path = tmp_path / 'out.bin'
    path.write_bytes(b'old')
    write_atomic(str(path), b'new')
    assert path.read_bytes() == b'new'
    assert os.listdir(tmp_path) == ['out.bin']


def test_failed_write_keeps_old_file_and_no_temp(tmp_path):
    path = tmp_path / 'out.bin'
    path.write_bytes(b'old')
    with pytest.raises(RuntimeError, match='disk on fire'):
        with atomic_open(str(path)) as f:
            f.write(b'half of the new')
            assert partial_files(str(tmp_path)) != []  # written beside it
            raise RuntimeError('disk on fire')
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['out.bin']


def test_failed_write_creates_nothing(tmp_path):
    path = tmp_path / 'out.bin'
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(str(path)):
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_bad_mode(tmp_path):
    with pytest.raises(ValueError, match=r"'wb' or 'w', got 'a'"):
        with atomic_open(str(tmp_path / 'x'), 'a'):
            pass
    assert os.listdir(tmp_path) == []


def _fsynced_folders(monkeypatch):
    """Record the folders ``fileio`` fsyncs."""
    import glean_plugin.fileio as fileio
    synced = []
    real = fileio._fsync_dir
    monkeypatch.setattr(fileio, '_fsync_dir',
                        lambda folder: (synced.append(folder), real(folder)))
    return synced


def test_atomic_open_fsyncs_the_folder(tmp_path, monkeypatch):
    synced = _fsynced_folders(monkeypatch)
    with atomic_open(str(tmp_path / 'a.bin')) as f:
        f.write(b'x')
    assert synced == [str(tmp_path)]


def test_link_atomic_replaces_and_syncs(tmp_path, monkeypatch):
    from glean_plugin.fileio import link_atomic
    src, dst = tmp_path / 'src.bin', tmp_path / 'dst.bin'
    src.write_bytes(b'new')
    dst.write_bytes(b'old')
    synced = _fsynced_folders(monkeypatch)
    link_atomic(str(src), str(dst))
    assert dst.read_bytes() == b'new'
    assert os.stat(src).st_ino == os.stat(dst).st_ino
    assert synced == [str(tmp_path)]
    assert partial_files(str(tmp_path)) == []


def test_link_atomic_failure_leaves_nothing(tmp_path):
    from glean_plugin.fileio import link_atomic
    with pytest.raises(FileNotFoundError):
        link_atomic(str(tmp_path / 'missing'), str(tmp_path / 'dst'))
    assert os.listdir(tmp_path) == []


def test_replace_durable_moves_a_folder(tmp_path, monkeypatch):
    from glean_plugin.fileio import replace_durable
    (tmp_path / 'tmp').mkdir()
    (tmp_path / 'tmp' / 'f').write_bytes(b'1')
    synced = _fsynced_folders(monkeypatch)
    replace_durable(str(tmp_path / 'tmp'), str(tmp_path / 'final'))
    assert (tmp_path / 'final' / 'f').read_bytes() == b'1'
    assert not (tmp_path / 'tmp').exists()
    assert synced == [str(tmp_path)]


def test_refuse_existing_names_what_exists(tmp_path):
    present, absent = tmp_path / 'a.png', tmp_path / 'b.png'
    present.write_bytes(b'earlier')
    refuse_existing([str(absent)], overwrite=False)  # nothing there: fine
    refuse_existing([str(present)], overwrite=True)  # allowed to replace
    with pytest.raises(FileExistsError) as err:
        refuse_existing([str(present), str(absent)], overwrite=False)
    assert '1 output(s) exist' in str(err.value)
    assert str(present) in str(err.value) and str(absent) not in str(err.value)
    assert '--overwrite' in str(err.value)
    assert present.read_bytes() == b'earlier'
