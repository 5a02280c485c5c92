"""glean_plugin.analysis.measure: timing, FLOPs, peak memory, and the two
places that depend on what torch's profiler does (each fails loudly here
when torch changes)."""
import os

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from glean_plugin.analysis import measure
from tests.support.helpers import run_python

MIB = measure.MIB


def test_allocation_records_see_each_allocation_and_free():
    """The profiler's raw results still hold one record per allocation and
    free, with sizes: if torch changes them, this fails (and so would every
    CPU peak-memory figure)."""
    with measure._without_kineto_log():
        with profile(activities=[ProfilerActivity.CPU],
                     profile_memory=True) as prof:
            x = torch.ones(MIB // 4)
            del x
    records = measure.allocation_records(prof)
    sizes = [n for _, n in records]
    assert MIB in sizes and -MIB in sizes
    assert [t for t, _ in records] == sorted(t for t, _ in records)


def test_allocation_records_fail_loudly_when_torch_changes():
    class Changed:
        profiler = object()  # no kineto_results

    with pytest.raises(RuntimeError, match=r'torch .*kineto_results.*'
                       'changed, so CPU peak memory cannot be measured'):
        measure.allocation_records(Changed())


def test_kineto_log_lines_are_dropped_others_kept(capfd):
    with measure._without_kineto_log():
        os.write(2, b'USDT:2026-12-02 02:23:17 5599:5599 '
                    b'SyncActivityProfilerHandler.cpp:39] profiler_start\n')
        os.write(2, b'something else\n')
    err = capfd.readouterr().err
    assert 'profiler_start' not in err and 'something else' in err
    # a real profile on this machine: nothing of Kineto's reaches stderr
    measure.measure_peak_memory(lambda: torch.ones(16), torch.device('cpu'))
    err = capfd.readouterr().err
    assert 'profiler_start' not in err and 'DeviceProperties' not in err


def test_time_alternating_reverses_order_and_reports_each_call():
    calls, lines = [], []
    fns = {'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')}
    times, faults = measure.time_alternating(fns, 3, 1, torch.device('cpu'),
                                             lines.append)
    assert calls == ['a', 'b', 'a', 'b', 'b', 'a', 'a', 'b']
    assert {k: len(v) for k, v in times.items()} == {'a': 3, 'b': 3}
    assert set(faults) == {'a', 'b'}
    assert len(lines) == 6 and lines[0].startswith('timed a 1/3: ')
    assert lines[2].startswith('timed b 2/3: ')  # B A on the second repeat


def test_measure_latency_reports_progress():
    lines = []
    times = measure.measure_latency(lambda: None, torch.device('cpu'),
                                    measure.TimingSettings(0, 2),
                                    lines.append, 'forward')
    assert len(times) == 2
    assert [line.split(':')[0] for line in lines] == ['timed forward 1/2',
                                                      'timed forward 2/2']


def test_summarize_and_compare():
    s = measure.summarize([2., 1., 4.], flops=6 * 10**9, items=2)
    assert (s['median_s'], s['min_s'], s['items_per_s']) == (2., 1., 1.)
    assert (s['gflop'], s['gflops_per_s']) == (6., 3.)
    assert 'gflop' not in measure.summarize([1.])
    r = measure.compare({'ours': [1., 4.], 'mmagic': [2., 2.]})
    assert r['ratio_of_medians'] == pytest.approx(2.5 / 2)
    assert r['paired_ratio_median'] == pytest.approx(1.25)


def test_timing_settings_refuse_bad_values():
    with pytest.raises(ValueError, match='warmup must be an int >= 0, got '
                       '-1'):
        measure.TimingSettings(warmup=-1)
    with pytest.raises(ValueError, match='repeats must be an int >= 1, got '
                       '0'):
        measure.TimingSettings(repeats=0)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists('/proc/self/clear_refs'),
                    reason='process peak needs Linux /proc')
def test_process_peak_sees_a_large_buffer():
    """In a fresh process, as the harness measures: in this one, freed
    memory that earlier tests left resident may serve the buffer."""
    run_python(f'''
        import torch
        from glean_plugin.analysis import measure
        cpu = torch.device('cpu')
        before = measure.reset_process_peak(cpu)
        x = torch.ones({64 * MIB // 4})  # 64 MiB, every page touched
        peak = measure.process_peak(cpu)
        del x
        assert before > 0 and peak - before >= {60 * MIB}, (before, peak)
    ''')


def test_peak_memory_is_none_on_other_devices():
    assert measure.measure_peak_memory(lambda: None,
                                       torch.device('meta')) is None
