"""Files written to attack the loaders go through every API and tool that
opens files: nothing in them runs, the refusal names what they asked for,
and the interpreter's classes and torch's safe globals stay as they were."""
import argparse
import json
import os
import os.path as osp
import pickle
import time

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from glean_plugin.apis import init_generator
from glean_plugin.checkpoint import (CheckpointMismatchError, UnsafeFileError,
                                     load_state_dict_from_file)
from glean_plugin.converters import load_stylegan2_source
from glean_plugin.models import GLEANDiscriminator, GLEANNet
from glean_plugin.serialization import (load_torch_file,
                                        mmengine_checkpoint_globals)
from tests.support.helpers import (PYTHON, REPO_ROOT, data_options, run_python,
                                   run_tool)
from tests.support.tiny_glean import CONFIG, IN_SIZE, random_images
from tests.test_security import hostile_files

DRIVER = osp.join(osp.dirname(osp.abspath(__file__)), 'tool_driver.py')
TINY_GLEAN = dict(in_size=IN_SIZE, out_size=32, style_channels=32,
                  max_channels=32, num_mlps=2, rrdb_channels=32, num_rrdbs=2)
# The tools exit with this status for bad input (a refused file is one).
USER_ERROR_STATUS = 2
# Time for a process a payload might have started to leave its marker.
PROCESS_GRACE_S = 1.0


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    return hostile_files.write_all(str(tmp_path_factory.mktemp('hostile')))


def _ids(files):
    return [f'{f.kind}-{f.fmt}' for f in files]


def _assert_refused(err: BaseException, hostile, converter=False) -> None:
    message = str(err)
    assert isinstance(err, CheckpointMismatchError), repr(err)
    assert '\n' not in message, message
    expected = hostile.expected(converter)
    assert any(name in message for name in expected), (expected, message)
    assert not osp.exists(hostile.marker), 'the payload ran'


@pytest.fixture(autouse=True)
def _interpreter_untouched():
    """No attack changes classes or the safe globals of this process."""
    HistoryBuffer()  # mmengine fills in its own statistics on first use
    stats = dict(HistoryBuffer._statistics_methods)
    namespace_repr = argparse.Namespace.__repr__
    # torch keeps them in a set: the order may change, the members may not
    safe = set(torch.serialization.get_safe_globals())
    yield
    assert HistoryBuffer._statistics_methods == stats
    assert argparse.Namespace.__repr__ is namespace_repr
    assert set(torch.serialization.get_safe_globals()) == safe


def test_the_payloads_are_real(tmp_path):
    """Read without restriction (the standard library's pickle, in a child
    process), the plain-pickle files do run their payloads."""
    folder = str(tmp_path)
    run_python(f"""
        import argparse, os, pickle, sys, time
        from tests.test_security import hostile_files
        for f in hostile_files.write_all({folder!r}, formats=('pickle', )):
            original = argparse.Namespace.__repr__
            with open(f.path, 'rb') as fp:
                try:
                    pickle.load(fp)
                except Exception as err:
                    print(f.kind, 'raised', type(err).__name__)
            if f.kind == 'build':
                assert argparse.Namespace.__repr__ is not original, f.kind
            else:  # Popen does not wait for its command
                deadline = time.monotonic() + 30
                while not os.path.exists(f.marker) and \
                        time.monotonic() < deadline:
                    time.sleep(0.05)
                assert os.path.exists(f.marker), f.kind
        """)


OPENERS = {
    'load_stylegan2_source': load_stylegan2_source,
    'load_state_dict_from_file': load_state_dict_from_file,
    'mmengine CheckpointLoader': lambda p: CheckpointLoader.load_checkpoint(
        p, map_location='cpu'),
    'init_cfg Pretrained': lambda p: GLEANNet(**TINY_GLEAN, init_cfg=dict(
        type='Pretrained', checkpoint=p, prefix='generator_ema')
    ).init_weights(),
    'GLEANNet pretrained=': lambda p: GLEANNet(**TINY_GLEAN, pretrained=p),
    'GLEANDiscriminator pretrained=': lambda p: GLEANDiscriminator(
        in_size=32, max_channels=16, pretrained=dict(ckpt_path=p)),
    'apis.init_generator': lambda p: init_generator(CONFIG, p, 'cpu'),
}


@pytest.mark.parametrize('opener', sorted(OPENERS))
def test_every_api_refuses_every_hostile_file(files, opener):
    for hostile in files:
        with pytest.raises(CheckpointMismatchError) as info:
            OPENERS[opener](hostile.path)
        _assert_refused(info.value, hostile,
                        converter=opener == 'load_stylegan2_source')


def test_refusals_of_torch_files_are_unsafe_file_errors(files):
    for hostile in files:
        if hostile.fmt == 'pickle':
            continue
        with pytest.raises(UnsafeFileError):
            load_state_dict_from_file(hostile.path)


@pytest.mark.slow
def test_import_leaves_torch_safe_globals_alone():
    """``import glean_plugin`` adds nothing to torch's process-wide list."""
    run_python("""
        import torch
        from glean_plugin.compat import install_mmcv_ext_placeholder
        install_mmcv_ext_placeholder()  # so that MMagic imports first
        import mmengine.runner, mmagic.models  # their own additions
        before = set(torch.serialization.get_safe_globals())
        import glean_plugin, glean_plugin.dropin
        after = set(torch.serialization.get_safe_globals())
        assert after == before, set(map(repr, after ^ before))
        assert getattr not in after
        """)


def test_mmengine_checkpoints_still_load_with_weights_only(tmp_path):
    """A real message hub (HistoryBuffer with its statistics, numpy
    scalars) loads through mmengine, and is mmengine's class again."""
    hub = MessageHub.get_instance('glean_security_test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', 2.5)
    hub.update_info('iter', 3)
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'meta': {'seed': np.int64(5), 'lr': np.float32(0.5)},
                'state_dict': {'w': torch.ones(2)},
                'message_hub': hub.state_dict()}, path)
    with pytest.raises(pickle.UnpicklingError):  # torch alone refuses it
        torch.load(path, weights_only=True)
    loaded = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert type(buffer) is HistoryBuffer
    assert buffer.statistics('mean') == pytest.approx(2.0)
    assert loaded['meta']['seed'] == 5
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))
    # the same file through the plugin's own loader
    assert load_torch_file(path, mmengine_checkpoint_globals())['meta'][
        'lr'] == pytest.approx(0.5)


def test_converter_still_reads_namespaces_and_stand_ins(tmp_path):
    """rosinality's .pt holds an argparse.Namespace: allowed for that read
    only."""
    path = str(tmp_path / 'rosinality.pt')
    torch.save({'g_ema': {'w': torch.ones(1)},
                'args': argparse.Namespace(size=256, channel_multiplier=2)},
               path)
    loaded = load_stylegan2_source(path)
    assert loaded['args'].size == 256
    assert argparse.Namespace not in torch.serialization.get_safe_globals()


# --------------------------------------------------------------------------- #
# every tool, each hostile file (one interpreter per tool)
# --------------------------------------------------------------------------- #
def _drive(tmp_path, argvs):
    spec, result = str(tmp_path / 'spec.json'), str(tmp_path / 'result.json')
    with open(spec, 'w') as f:
        json.dump([{'argv': [str(a) for a in argv]} for argv in argvs], f)
    proc = run_tool([PYTHON, DRIVER, spec, result], timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(result) as f:
        return json.load(f)


def _assert_tool_refused(result, hostile, converter=False, status=None):
    expected = hostile.expected(converter)
    status = USER_ERROR_STATUS if status is None else status
    assert result['status'] == status, result
    assert 'Traceback' not in result['output'], result['output']
    assert result['state_unchanged'], result
    assert not osp.exists(hostile.marker), f'the payload ran: {result}'
    if status == USER_ERROR_STATUS:
        assert len(result['errors']) == 1, result
        text = result['errors'][0]
    else:
        text = result['output']
    assert any(name in text for name in expected), (expected, result)


def _tool(name):
    return osp.join(REPO_ROOT, 'tools', f'{name}.py')


@pytest.mark.slow
def test_convert_stylegan2_refuses(files, tmp_path):
    argvs = [[_tool('convert_stylegan2'), f.path, tmp_path / f'{i}.pth']
             for i, f in enumerate(files)]
    for hostile, result in zip(files, _drive(tmp_path, argvs)):
        _assert_tool_refused(result, hostile, converter=True)
    assert not [p for p in os.listdir(tmp_path) if p[0].isdigit()]


@pytest.fixture(scope='module')
def image_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp('images')
    iio.imwrite(folder / 'lr.png', random_images(1)[0])
    iio.imwrite(folder / 'edited.png', random_images(1, size=4 * IN_SIZE)[0])
    return folder


@pytest.mark.slow
def test_inference_tools_refuse(files, tmp_path, image_dir):
    argvs = []
    for i, f in enumerate(files):
        argvs.append([_tool('infer'), CONFIG, f.path, image_dir / 'lr.png',
                      tmp_path / f'infer{i}', '--device', 'cpu',
                      '--no-progress'])
        argvs.append([_tool('retouch'), CONFIG, f.path,
                      image_dir / 'edited.png', tmp_path / f'retouch{i}.png',
                      '--device', 'cpu'])
    results = _drive(tmp_path, argvs)
    for i, hostile in enumerate(files):
        for result in results[2 * i:2 * i + 2]:
            _assert_tool_refused(result, hostile)
    assert not [p for p in os.listdir(tmp_path) if 'infer' in p
                or 'retouch' in p]


# Runner-based runs take seconds each: these three files (a call, a hostile
# message hub, a plain pickle) go through test.py, train.py --resume and an
# init_cfg Pretrained config; every file goes through the same mmengine
# loader in test_every_api_refuses_every_hostile_file.
RUNNER_FILES = (('reduce', 'zip'), ('history_getattr', 'zip'),
                ('nested', 'pickle'))


@pytest.mark.slow
def test_train_and_test_tools_refuse(files, tmp_path, tiny_data):
    """test.py CHECKPOINT, train.py --resume, an init_cfg Pretrained config
    and (every file) model.generator.pretrained=."""
    argvs, expected = [], []
    options = data_options(tiny_data)
    for i, f in enumerate(files):
        work = tmp_path / f'work{i}'
        argvs.append([_tool('train'), CONFIG, '--work-dir', work / 'bank',
                      '--cfg-options', *options,
                      f'model.generator.pretrained={f.path}'])
        expected.append(f)
        if (f.kind, f.fmt) not in RUNNER_FILES:
            continue
        argvs.append([_tool('test'), CONFIG, f.path, '--work-dir',
                      work / 'test', '--cfg-options', *options])
        resume = work / 'resume'
        resume.mkdir(parents=True)
        (resume / 'last_checkpoint').write_text(f.path)
        argvs.append([_tool('train'), CONFIG, '--work-dir', resume,
                      '--resume', '--cfg-options', *options])
        config = work / 'pretrained_cfg.py'
        config.write_text(
            f'_base_ = [{CONFIG!r}]\n'
            'model = dict(generator=dict(init_cfg=dict('
            f"_delete_=True, type='Pretrained', checkpoint={f.path!r}, "
            "prefix='generator_ema')))\n")
        argvs.append([_tool('train'), config, '--work-dir', work / 'init',
                      '--cfg-options', *options])
        expected += [f, f, f]
    assert len(argvs) == len(files) + 3 * len(RUNNER_FILES)
    for hostile, result in zip(expected, _drive(tmp_path, argvs)):
        _assert_tool_refused(result, hostile)


@pytest.mark.slow
def test_benchmark_reports_hostile_checkpoints_as_skipped(files, tmp_path,
                                                          tiny_data):
    """The row of a hostile checkpoint is skipped with the refusal as its
    reason (the report's JSON has it whole)."""
    argvs = [[_tool('benchmark'), '--configs', CONFIG, '--checkpoints',
              f.path, '--data', osp.join(tiny_data, 'val'), '--scale', '4',
              '--out-dir', tmp_path / f'bench{i}', '--device', 'cpu',
              '--lpips-random', '--repeats', '1', '--warmup', '0']
             for i, f in enumerate(files)]
    nothing_benchmarked = 1
    for i, (hostile, result) in enumerate(zip(files, _drive(tmp_path,
                                                             argvs))):
        assert result['status'] == nothing_benchmarked, result
        assert result['state_unchanged'] and 'Traceback' not in \
            result['output'], result
        with open(tmp_path / f'bench{i}' / 'benchmark.json') as f:
            rows = [r for r in json.load(f)['models']
                    if r['status'] == 'skipped']
        assert len(rows) == 1, rows
        assert any(name in rows[0]['reason']
                   for name in hostile.expected(False)), rows
        assert not osp.exists(hostile.marker)


def test_no_payload_ran_later(files):
    """Last in this module: a payload that started a process (Popen) would
    have created its marker by now."""
    time.sleep(PROCESS_GRACE_S)
    assert not [f.marker for f in files if osp.exists(f.marker)]
