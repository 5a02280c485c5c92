"""The speed/memory harness (``glean_plugin.analysis.speed``, the tool
``tools/analysis/benchmark_speed.py``) on a tiny GLEAN.

Timings are never asserted (shared, noisy machine); what is asserted is that
every mode runs, checks parity against MMagic's GLEAN and reports what it
measured, and that bad options give clear errors. The library runs in this
process (one thread); one slow run of the tool end to end covers the memory
mode (a subprocess per implementation and call).
"""
import argparse
import contextlib
import io
import json
import logging
import os.path as osp

import pytest
import torch

from glean_plugin.analysis import speed_stylegan2
from glean_plugin.analysis.speed import run_speed_benchmark
from glean_plugin.analysis.speed_cli import (main, parse_args, parse_size,
                                             parse_stylegan2_size)
from glean_plugin.analysis.speed_models import (PROGRESS_LOGGER, ParityError,
                                                check_parity)
from glean_plugin.analysis.speed_report import format_report
from glean_plugin.analysis.speed_stylegan2 import (amortised_counts,
                                                   build_stylegan2_networks)
from glean_plugin.hardware import SlowDtypeWarning, slow_dtype_reason
from tests.support.helpers import PYTHON, REPO_ROOT, run_tool, torch_threads

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark_speed.py')
# MMagic's GLEAN has no channel cap: 8->16 with one RRDB and small latents is
# the cheapest model both implementations build (512 channels up to 32x32).
TINY = ['--sizes', '8x16', '--num-rrdbs', '1', '--style-channels', '16',
        '--channel-multiplier', '1']
# The smallest StyleGAN2 pair: 8x8, 4 channels, batch 2 (path length on 1).
TINY_STYLEGAN2 = ['--stylegan2-size', '8', '--stylegan2-channels', '4',
                  '--stylegan2-batch-size', '2']
STYLEGAN2_KINDS = ('plain', 'r1', 'path_length', 'r1+path_length')
ONE_REPEAT = ['--repeats', '1', '--train-repeats', '1', '--warmup', '0']


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One CPU thread (see ``torch_threads``)."""
    with torch_threads(1):
        yield


def run_in_process(argv, monkeypatch=None):
    """(printed output, report, progress lines) of the harness run here."""
    args = parse_args(argv)
    progress = []

    class Collect(logging.Handler):
        def emit(self, record):
            progress.append(record.getMessage())

    logger = logging.getLogger(PROGRESS_LOGGER)
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            report = run_speed_benchmark(args)
            print(format_report(report))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return out.getvalue(), report, progress


@pytest.fixture(scope='module')
def full_run():
    """forward + train with gradient checkpointing, and the StyleGAN2
    iteration, one repeat, in this process."""
    return run_in_process([
        *TINY, *TINY_STYLEGAN2, '--modes', 'forward', 'train', 'stylegan2',
        '--grad-checkpoint', '--batch-sizes', '1', '2', *ONE_REPEAT,
        '--train-batch-size', '1'])


@pytest.fixture(scope='module')
def tool_run(tmp_path_factory):
    """The tool end to end: forward and memory (each implementation and
    call in a fresh subprocess), gradient checkpointing, one thread."""
    out = tmp_path_factory.mktemp('speed') / 'report.json'
    proc = run_tool([
        PYTHON, TOOL, *TINY, '--modes', 'forward', 'memory',
        '--grad-checkpoint', '--batch-sizes', '1', *ONE_REPEAT,
        '--train-batch-size', '1', '--threads', '1', '--json', str(out)
    ], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, out, json.loads(out.read_text())


@pytest.mark.slow
def test_forward_rows(full_run):
    stdout, report, _ = full_run
    rows = report['forward']
    assert [(r['in_size'], r['out_size'], r['batch']) for r in rows] == [
        (8, 16, 1), (8, 16, 2)]
    for r in rows:
        assert r['parity_rel_diff'] < 1e-4
        for impl in ('mmagic', 'ours'):
            assert len(r[impl]['times_s']) == 1
            assert r[impl]['median_s'] > 0
            assert r[impl]['items_per_s'] == pytest.approx(
                r['batch'] / r[impl]['median_s'])
        # same network: the FLOP counts agree (ours skips the RGB path)
        assert r['ours']['gflop'] <= r['mmagic']['gflop']
        assert r['ours']['gflop'] > 0.9 * r['mmagic']['gflop']
        assert r['ratio_of_medians'] == pytest.approx(
            r['ours']['median_s'] / r['mmagic']['median_s'])
    # batch 2 does twice the work of batch 1
    assert rows[1]['ours']['gflop'] == pytest.approx(
        2 * rows[0]['ours']['gflop'], rel=1e-3)
    conv = report['reference_conv']
    assert conv['gflops_per_s'] > 0 and conv['kernel'] == 3
    assert '| 8x16 | 2 |' in stdout and 'practical limit' in stdout


@pytest.mark.slow
def test_each_timed_call_reports_progress(full_run):
    _, _, progress = full_run
    # one line per timed call: 2 conv formats, 2 batches x 2 models,
    # 3 training implementations, 4 StyleGAN2 kinds x 2
    assert len(progress) == 2 + 4 + 3 + 8
    assert 'forward 8x16 batch 2: timed ours 1/1: ' in '\n'.join(progress)
    assert any(p.startswith('train 8x16 batch 1: timed ours+cp 1/1: ')
               for p in progress)
    assert any(p.startswith('stylegan2 r1+path_length: timed mmagic')
               for p in progress)


@pytest.mark.slow
def test_train_rows(full_run):
    stdout, report, _ = full_run
    (row, ) = report['train']
    assert row['parity_rel_diff'] < 1e-4
    for impl in ('mmagic', 'ours', 'ours+cp'):
        assert row[impl]['median_s'] > 0
    assert 'with_cp' in row['grad_checkpoint']
    assert row['cp']['ratio_of_medians'] > 0
    assert 'Training iteration' in stdout
    assert 'ours+cp vs ours: parity relative difference' in stdout


@pytest.mark.slow
def test_memory_rows(tool_run):
    proc, _, report = tool_run
    stdout = proc.stdout
    modes = {r['mode']: r for r in report['memory']}
    assert set(modes) == {'forward', 'train'}
    assert 'ours+cp' not in modes['forward']  # no autograd, nothing to save
    for mode, row in modes.items():
        for impl in ('mmagic', 'ours') + (('ours+cp', )
                                          if mode == 'train' else ()):
            m = row[impl]
            assert m['peak_mib'] >= m['before_mib'] > 0, (mode, impl)
            assert m['rise_mib'] == pytest.approx(
                m['peak_mib'] - m['before_mib'])
    assert 'Peak memory of one call (MiB RSS' in stdout


@pytest.mark.slow
def test_stylegan2_rows(full_run):
    stdout, report, _ = full_run
    r = report['stylegan2']
    assert (r['out_size'], r['max_channels'], r['batch']) == (8, 4, 2)
    assert r['parity_rel_diff'] < 1e-4
    assert tuple(r['kinds']) == STYLEGAN2_KINDS
    for kind in r['kinds'].values():
        for impl in ('mmagic', 'ours'):
            assert len(kind[impl]['times_s']) == 1
            assert kind[impl]['median_s'] > 0
        assert kind['ratio_of_medians'] == pytest.approx(
            kind['ours']['median_s'] / kind['mmagic']['median_s'])
    a = r['amortised']
    # MMagic's intervals: in 16 iterations, R1 once (with path length)
    assert a['counts'] == {'plain': 12, 'r1': 0, 'path_length': 3,
                           'r1+path_length': 1}
    for impl in ('mmagic', 'ours'):
        want = sum(n * r['kinds'][k][impl]['median_s']
                   for k, n in a['counts'].items()) / 16
        assert a[impl + '_s'] == pytest.approx(want)
    assert a['ratio'] == pytest.approx(a['ours_s'] / a['mmagic_s'])
    assert 'stylegan2 8x8 iterations (0, 1) (losses): parity' in stdout
    assert '| R1 + path length |' in stdout
    assert '| amortised (R1 every 16, path length every 4) |' in stdout
    assert len(report['machine']['load_average']) == 3


@pytest.mark.slow
def test_tool_end_to_end(tool_run):
    """The tool: arguments, the memory subprocesses' results, the printed
    tables, progress lines and the JSON file."""
    proc, out, report = tool_run
    assert report['forward'][0]['parity_rel_diff'] < 1e-4
    assert 'memory ours+cp:8x16:train:1: {' in proc.stdout
    assert '| 8x16 | 1 |' in proc.stdout
    assert f'wrote {out}' in proc.stdout
    # progress on stderr, one line per timed call
    assert 'forward 8x16 batch 1: timed ours 1/1: ' in proc.stderr
    assert report['args']['threads'] == '1'


def test_stylegan2_networks_share_weights():
    """MMagic's capped table builds MMagic's own modules with the capped
    counts, and ours loads them strictly (8x8 and 16x16, 4 channels)."""
    for size in (8, 16):
        args = parse_args(TINY_STYLEGAN2 + [
            '--stylegan2-size', str(size), '--style-channels', '8'])
        (mm_g, mm_d), (g, d) = build_stylegan2_networks(args)
        assert type(mm_g).__mro__[1].__name__ == 'StyleGAN2Generator'
        assert type(mm_d).__name__ == 'StyleGAN2Discriminator'
        assert max(p.shape[0] for p in mm_d.parameters()) <= 4 * 16
        assert mm_g.constant_input.input.shape[1] == 4
        for ours, theirs in ((g, mm_g), (d, mm_d)):
            mine = ours.state_dict()
            for key, value in theirs.state_dict().items():
                assert mine[key].shape == value.shape
                assert mine[key].equal(value), key
    # the discriminator module's layers are MMagic's again afterwards
    from mmagic.models.editors.stylegan2 import stylegan2_discriminator
    assert stylegan2_discriminator.ResBlock.__module__.startswith('mmagic')


def test_amortised_counts():
    assert amortised_counts(16, 4) == {
        'plain': 12, 'r1': 0, 'path_length': 3, 'r1+path_length': 1}
    assert amortised_counts(2, 3) == {
        'plain': 2, 'r1': 2, 'path_length': 1, 'r1+path_length': 1}


def test_stylegan2_parity_failure_exits(monkeypatch, capsys):
    """A discriminator that differs from MMagic's: the losses differ and the
    run stops with an error (non-zero exit status) before any timing."""
    build = build_stylegan2_networks

    def broken(args):
        theirs, (gen, disc) = build(args)
        with torch.no_grad():
            disc.final_linear[-1].bias.add_(1.)
        return theirs, (gen, disc)

    monkeypatch.setattr(speed_stylegan2, 'build_stylegan2_networks', broken)
    with pytest.raises(SystemExit) as exc:
        main(['--modes', 'stylegan2', *TINY_STYLEGAN2,
              '--style-channels', '8', '--train-repeats', '1'])
    assert 'error: stylegan2 8x8 iterations (0, 1) (losses): outputs ' \
        'differ by' in str(exc.value)
    assert 'timed' not in capsys.readouterr().out


def test_speed_options_run_with_parity():
    """channels_last and bf16 autocast: both run, parity within bf16's
    tolerance (MMagic's model runs where it can, else float32, noted); a
    CPU without bf16 instructions is warned about, once."""
    slow = slow_dtype_reason('bf16', 'cpu') is not None
    with pytest.warns(SlowDtypeWarning) if slow else \
            contextlib.nullcontext():
        _, report, _ = run_in_process([
            *TINY, '--channels-last', '--dtype', 'bf16', '--batch-sizes',
            '1', '--repeats', '1', '--warmup', '0'])
    assert 'dtype=bf16' in report['machine']['options']
    assert 'channels_last' in report['machine']['options']
    (row, ) = report['forward']
    assert row['parity_rel_diff'] < 5e-2


@pytest.mark.parametrize('text, message', [
    ('32', 'expected INxOUT'),
    ('32xa', 'expected INxOUT'),
    ('3x12', 'powers of two'),
    ('256x32', 'smaller than the output'),
])
def test_bad_sizes(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse_size(text)


def test_bad_options_exit_with_message(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(['--sizes', '32x16'])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert 'smaller than the output size' in err
    assert 'Traceback' not in err
    with pytest.raises(SystemExit) as exc:
        parse_args(['--repeats', '0'])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and 'expected an integer >= 1' in err


@pytest.mark.parametrize('text', ['4', '12', 'x'])
def test_bad_stylegan2_sizes(text):
    with pytest.raises(argparse.ArgumentTypeError,
                       match='expected a power of two >= 8'):
        parse_stylegan2_size(text)


def test_parity_failure_stops_the_run(capsys):
    check_parity('forward 8x16', 5e-5, 1e-4)  # within: prints only
    assert 'parity relative difference 5.000e-05' in capsys.readouterr().out
    with pytest.raises(ParityError, match=r'outputs differ by 1\.000e-02 > '
                       r'0\.0001'):
        check_parity('forward 8x16', 1e-2, 1e-4)
