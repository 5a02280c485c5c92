"""tools/analysis/benchmark_speed.py: the speed/memory harness on a tiny GLEAN.

Timings are never asserted (shared, noisy machine); what is asserted is that
every mode runs, checks parity against MMagic's GLEAN and reports what it
measured, and that bad options give clear errors.
"""
import argparse
import importlib.util
import json
import os.path as osp

import pytest
import torch

from tests.support.helpers import PYTHON, REPO_ROOT, run_tool

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis', 'benchmark_speed.py')
# MMagic's GLEAN has no channel cap: 8->16 with one RRDB and small latents is
# the cheapest model both implementations build (512 channels up to 32x32).
TINY = ['--sizes', '8x16', '--num-rrdbs', '1', '--style-channels', '16',
        '--channel-multiplier', '1']
# The smallest StyleGAN2 pair: 8x8, 4 channels, batch 2 (path length on 1).
TINY_STYLEGAN2 = ['--stylegan2-size', '8', '--stylegan2-channels', '4',
                  '--stylegan2-batch-size', '2']
STYLEGAN2_KINDS = ('plain', 'r1', 'path_length', 'r1+path_length')


def load_tool():
    spec = importlib.util.spec_from_file_location('benchmark_speed', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return load_tool()


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    """forward + train + memory with gradient checkpointing, and the
    StyleGAN2 iteration, one repeat."""
    out = tmp_path_factory.mktemp('speed') / 'report.json'
    proc = run_tool([
        PYTHON, TOOL, *TINY, *TINY_STYLEGAN2, '--modes', 'forward', 'train',
        'memory', 'stylegan2', '--grad-checkpoint', '--batch-sizes', '1',
        '2', '--repeats', '1', '--train-repeats', '1', '--warmup', '0', '--train-batch-size', '1',
        '--json', str(out)
    ], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


def test_forward_rows(full_run):
    stdout, report = full_run
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


def test_train_rows(full_run):
    stdout, report = full_run
    (row, ) = report['train']
    assert row['parity_rel_diff'] < 1e-4
    for impl in ('mmagic', 'ours', 'ours+cp'):
        assert row[impl]['median_s'] > 0
    assert 'with_cp' in row['grad_checkpoint']
    assert row['cp']['ratio_of_medians'] > 0
    assert 'Training iteration' in stdout
    assert 'ours+cp vs ours: parity relative difference' in stdout


def test_memory_rows(full_run):
    stdout, report = full_run
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


def test_stylegan2_rows(full_run):
    stdout, report = full_run
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


def test_stylegan2_networks_share_weights(tool):
    """MMagic's capped table builds MMagic's own modules with the capped
    counts, and ours loads them strictly (8x8 and 16x16, 4 channels)."""
    for size in (8, 16):
        args = tool.parse_args(TINY_STYLEGAN2 + [
            '--stylegan2-size', str(size), '--style-channels', '8'])
        (mm_g, mm_d), (g, d) = tool.build_stylegan2_networks(args)
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


def test_amortised_counts(tool):
    assert tool.amortised_counts(16, 4) == {
        'plain': 12, 'r1': 0, 'path_length': 3, 'r1+path_length': 1}
    assert tool.amortised_counts(2, 3) == {
        'plain': 2, 'r1': 2, 'path_length': 1, 'r1+path_length': 1}


def test_stylegan2_parity_failure_exits(tool, monkeypatch, capsys):
    """A discriminator that differs from MMagic's: the losses differ and the
    run stops with an error (non-zero exit status) before any timing."""
    build = tool.build_stylegan2_networks

    def broken(args):
        theirs, (gen, disc) = build(args)
        with torch.no_grad():
            disc.final_linear[-1].bias.add_(1.)
        return theirs, (gen, disc)

    monkeypatch.setattr(tool, 'build_stylegan2_networks', broken)
    with pytest.raises(SystemExit) as exc:
        tool.main(['--modes', 'stylegan2', *TINY_STYLEGAN2,
                   '--style-channels', '8', '--train-repeats', '1'])
    assert 'error: stylegan2 8x8 iterations (0, 1) (losses): outputs ' \
        'differ by' in str(exc.value)
    assert 'timed' not in capsys.readouterr().out


def test_speed_options_run_with_parity(tmp_path):
    """channels_last and bf16 autocast: both run, parity within bf16's
    tolerance (MMagic's model runs where it can, else float32, noted)."""
    out = tmp_path / 'r.json'
    proc = run_tool([
        PYTHON, TOOL, *TINY, '--channels-last', '--dtype', 'bf16',
        '--batch-sizes', '1', '--repeats', '1', '--warmup', '0', '--json',
        str(out)
    ], timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
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
def test_bad_sizes(tool, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        tool.parse_size(text)


def test_bad_options_exit_with_message():
    proc = run_tool([PYTHON, TOOL, '--sizes', '32x16'], timeout=120)
    assert proc.returncode == 2
    assert 'smaller than the output size' in proc.stderr
    assert 'Traceback' not in proc.stderr
    proc = run_tool([PYTHON, TOOL, '--repeats', '0'], timeout=120)
    assert proc.returncode == 2 and 'expected an integer >= 1' in proc.stderr


@pytest.mark.parametrize('text', ['4', '12', 'x'])
def test_bad_stylegan2_sizes(tool, text):
    with pytest.raises(argparse.ArgumentTypeError,
                       match='expected a power of two >= 8'):
        tool.parse_stylegan2_size(text)


def test_parity_failure_stops_the_run(tool, capsys):
    tool.check_parity('forward 8x16', 5e-5, 1e-4)  # within: prints only
    assert 'parity relative difference 5.000e-05' in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r'outputs differ by 1\.000e-02 > '
                       r'0\.0001'):
        tool.check_parity('forward 8x16', 1e-2, 1e-4)
