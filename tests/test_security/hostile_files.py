"""Files written to attack the loaders: each would run a payload (create a
marker file) or change the interpreter's classes if it were unpickled
without restriction.

Import as ``from tests.test_security import hostile_files``.
``write_all(folder)`` writes every kind in every format it comes in and
returns ``HostileFile`` records: the file, its marker, and the text the
refusal must name.
"""
import argparse
import copyreg
import io
import os
import os.path as osp
import pickle
import subprocess
import zipfile
from dataclasses import dataclass
from typing import List

import torch
from mmengine.logging.history_buffer import HistoryBuffer

# What os.system pickles as (posix.system on Linux).
SYSTEM = f'{os.system.__module__}.{os.system.__name__}'
HISTORY_BUFFER = 'mmengine.logging.history_buffer.HistoryBuffer'
# torch.save's legacy format: magic number and protocol version first.
LEGACY_MAGIC = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL = 1001


@dataclass
class HostileFile:
    """A hostile file and what its refusal must say."""
    kind: str
    fmt: str  # 'zip' / 'legacy' (torch.save) or 'pickle'
    path: str
    marker: str  # created if the payload ran
    names: tuple  # a refusal by a checkpoint loader names one of these
    converter_names: tuple  # the same for tools/convert_stylegan2.py

    def expected(self, converter: bool) -> tuple:
        """What the refusal of this file must name."""
        if converter:
            return self.converter_names
        return ('plain pickle', ) if self.fmt == 'pickle' else self.names


class Call:
    """Pickles as ``func(*args)``: any callable, reached however."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __call__(self):  # pickle's save_reduce wants a callable
        raise AssertionError('only pickled')

    def __reduce__(self):
        return (self.func, self.args)


def _class_build_pickle() -> bytes:
    """Protocol-2 pickle of ``{'payload': argparse.Namespace}`` where the
    class gets BUILD state ``(None, {'__repr__': OrderedDict})``: an
    unrestricted unpickler would set ``argparse.Namespace.__repr__``."""
    return (b'\x80\x02}X\x07\x00\x00\x00payload'
            b'cargparse\nNamespace\n'
            b'N}X\x08\x00\x00\x00__repr__ccollections\nOrderedDict\ns\x86b'
            b's.')


def _raw_torch_file(path: str, data: bytes, fmt: str) -> None:
    """A torch.save file (zip or legacy) whose object pickle is ``data``."""
    if fmt == 'pickle':
        with open(path, 'wb') as f:
            f.write(data)
        return
    if fmt == 'legacy':
        with open(path, 'wb') as f:
            for header in (LEGACY_MAGIC, LEGACY_PROTOCOL,
                           dict(protocol_version=LEGACY_PROTOCOL,
                                little_endian=True,
                                type_sizes=dict(short=2, int=4, long=4))):
                pickle.dump(header, f, protocol=2)
            f.write(data)
            pickle.dump([], f, protocol=2)  # no storages
        return
    template = io.BytesIO()
    torch.save({}, template)
    with zipfile.ZipFile(io.BytesIO(template.getvalue())) as src, \
            zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            body = (data if info.filename.endswith('/data.pkl') else
                    src.read(info.filename))
            dst.writestr(info.filename, body)


class Instance:
    """Pickles as ``cls()`` and BUILD with ``state`` (a HistoryBuffer with
    the state the file chooses)."""

    def __init__(self, cls, state) -> None:
        self.cls, self.state = cls, state

    def __reduce__(self):
        return (self.cls, (), self.state)


def _touch(marker: str) -> Call:
    return Call(os.system, f'touch {marker}')


def _payloads(marker: str) -> dict:
    """kind -> (object to pickle, text the refusal names)."""
    touch = _touch(marker)
    legacy = io.BytesIO()
    torch.save(touch, legacy, _use_new_zipfile_serialization=False)
    # getattr chain: Namespace.__init__.__globals__.get('_os').system(...)
    init = Call(getattr, argparse.Namespace, '__init__')
    globals_get = Call(getattr, Call(getattr, init, '__globals__'), 'get')
    system = Call(getattr, Call(globals_get, '_os'), 'system')
    return {
        'reduce': (touch, (SYSTEM, )),
        # torch's own _load_from_bytes runs torch.load(weights_only=False)
        'nested': (Call(torch.storage._load_from_bytes, legacy.getvalue()),
                   ('torch.storage._load_from_bytes', SYSTEM)),
        # copyreg._reconstructor(Popen, Popen, args) calls Popen(args)
        'reconstructor': (Call(copyreg._reconstructor, subprocess.Popen,
                               subprocess.Popen, ['touch', marker]),
                          ('Popen', 'copyreg._reconstructor')),
        'getattr': (Call(system, f'touch {marker}'),
                    ('getattr', 'argparse.Namespace')),
    }


def _mmengine_checkpoint(extra) -> dict:
    return {'meta': {'epoch': 0}, 'state_dict': {'w': torch.ones(1)},
            **extra}


def _history_payloads(marker: str) -> dict:
    """message_hub kinds: HistoryBuffer statistics with hostile callables."""
    buffers = {
        # a callable torch allows by default: would become HistoryBuffer.mean
        'history_callable': {'mean': torch.nn.Parameter},
        # reaching a function through getattr on the class
        'history_getattr': {'mean': Call(getattr, HistoryBuffer, '__init__')},
        'history_system': {'mean': _touch(marker)},
    }
    names = {'history_callable': ("statistics method 'mean'", ),
             'history_getattr': ("'__init__'", ),
             'history_system': (SYSTEM, )}
    out = {}
    for kind, stats in buffers.items():
        state = {'_log_history': torch.zeros(1).numpy(),
                 '_count_history': torch.ones(1).numpy(), 'max_length': 10,
                 'statistics_methods': stats}
        hub = {'log_scalars': {'train/loss': Instance(HistoryBuffer, state)},
               'runtime_info': {}, 'resumed_keys': {}}
        out[kind] = (_mmengine_checkpoint({'message_hub': hub}), names[kind])
    return out


KINDS = ('reduce', 'nested', 'reconstructor', 'build', 'getattr',
         'history_callable', 'history_getattr', 'history_system')


def write(obj, path: str, fmt: str) -> None:
    """Pickle ``obj`` as ``fmt``: 'zip'/'legacy' torch.save, or 'pickle'."""
    if fmt == 'pickle':
        with open(path, 'wb') as f:
            pickle.dump(obj, f)
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=fmt == 'zip')


def write_all(folder: str, formats=('zip', 'legacy', 'pickle'),
              kinds=None) -> List[HostileFile]:
    """Every hostile kind in each of ``formats`` (message_hub kinds as
    torch.save files only), under ``folder``."""
    os.makedirs(folder, exist_ok=True)
    files = []
    for fmt in formats:
        for kind in KINDS:
            if kinds is not None and kind not in kinds:
                continue
            if kind.startswith('history') and fmt == 'pickle':
                continue
            marker = osp.join(folder, f'{kind}_{fmt}.ran')
            path = osp.join(folder, f'{kind}.{fmt}.pth')
            if kind == 'build':
                _raw_torch_file(path, _class_build_pickle(), fmt)
                names = ('setting the state of type', 'build',
                         'argparse.Namespace')
            else:
                payloads = {**_payloads(marker), **_history_payloads(marker)}
                obj, names = payloads[kind]
                if not kind.startswith('history'):
                    obj = _mmengine_checkpoint({'payload': obj})
                write(obj, path, fmt)
            # the converter allows no mmengine class at all
            converter_names = ((HISTORY_BUFFER, ) if kind.startswith('history')
                               else names)
            files.append(HostileFile(kind, fmt, path, marker, names,
                                     converter_names))
    return files
