"""Timing, FLOPs, device synchronisation and peak memory: one home for the
quality benchmark (``glean_plugin.apis.benchmark``) and the speed
harness (``glean_plugin.analysis.speed``).

Peak memory has one definition per device, the memory PyTorch's allocator
hands out to tensors (weights, activations, workspaces, outputs) during one
call, beyond what was allocated before it:

- CUDA: ``torch.cuda.max_memory_allocated`` after the call minus
  ``torch.cuda.memory_allocated`` before it (peak statistics reset first);
- CPU: the peak of the running total of ``torch.profiler``'s allocation
  records (``profile_memory``), which see every allocation and free of
  PyTorch's CPU allocator, peaks inside an op included (memory that libraries
  allocate on their own is not seen);
- other devices: not measured (None).

The speed harness's ``memory`` mode asks a different question, how much
memory the whole process needs, and measures it in a fresh process per call
(``process_peak``): on CPU the resident set size (``VmHWM``), which also
counts what libraries allocate themselves; on CUDA the allocator figure
above (``max_memory_allocated``), the same definition.

FLOPs are ``torch.utils.flop_counter.FlopCounterMode``'s: 2 per
multiply-accumulate of convolutions and matrix products; element-wise ops,
activations and interpolation are not counted.
"""
import contextlib
import ctypes
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = [
    'MIB', 'Progress', 'TimingSettings', 'Timings', 'allocation_records',
    'compare', 'count_flops',
    'forward_with_flops', 'keep_freed_memory', 'measure_latency',
    'measure_peak_memory', 'minor_faults', 'process_peak',
    'reset_process_peak', 'summarize', 'synchronize', 'time_alternating'
]

MIB = 2**20
# glibc mallopt parameters (malloc.h) for ``keep_freed_memory``; the largest
# trim threshold mallopt takes (a C int).
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
C_INT_MAX = 2**31 - 1
# /proc/self/clear_refs value that resets VmHWM to the current RSS (Linux
# 4.0 or newer).
_RESET_HWM = '5'
# Lines of the profiler backend's (Kineto's) own log, e.g.
# "ERROR:2026-01-01 12:00:00 123:123 DeviceProperties.cpp:56] ..."
_KINETO_LOG_LINE = re.compile(
    rb'^[A-Z]+:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \d+:\d+ \S+\.cpp:\d+\]')
# The profiler's name of its allocation / free records.
_MEMORY_RECORD = '[memory]'

Timings = Dict[str, List[float]]
# Called with one line per timed call (e.g. a function printing to stderr).
Progress = Optional[Callable[[str], None]]


@dataclass(frozen=True)
class TimingSettings:
    """How latency is measured.

    Args:
        warmup (int): untimed calls first.
        repeats (int): timed calls; the median is reported.
    """

    warmup: int = 2
    repeats: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f'warmup must be an int >= 0, got '
                             f'{self.warmup!r}')
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise ValueError(f'repeats must be an int >= 1, got '
                             f'{self.repeats!r}')


def synchronize(device: Union[str, torch.device]) -> None:
    """Wait for the device's queued work (CUDA); nothing elsewhere."""
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of ``fn()`` (``FlopCounterMode``: 2 per multiply-accumulate)."""
    return forward_with_flops(fn)[1]


def forward_with_flops(fn: Callable[..., Any], *args: Any) -> Tuple[Any, int]:
    """``fn(*args)`` under ``FlopCounterMode``.

    Returns:
        tuple: the result and its FLOPs (2 per multiply-accumulate).
    """
    with FlopCounterMode(display=False) as counter:
        out = fn(*args)
    return out, counter.get_total_flops()


def minor_faults() -> int:
    """Minor page faults of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure_latency(fn: Callable[[], Any], device: torch.device,
                    timing: TimingSettings = TimingSettings(),
                    progress: Progress = None,
                    what: str = 'call') -> List[float]:
    """Seconds of each timed call of ``fn()``, after the warm-up calls.

    Args:
        fn (callable): the work, e.g. one forward.
        device (torch.device): CUDA is synchronised around each call.
        timing (TimingSettings): warm-up and timed calls.
        progress (callable, optional): given one line per timed call.
        what (str): the call's name in the progress lines.

    Returns:
        list[float]: ``timing.repeats`` durations in seconds.
    """
    return time_alternating({what: fn}, timing.repeats, timing.warmup,
                            device, progress)[0][what]


def time_alternating(fns: Dict[str, Callable[[], Any]], repeats: int,
                     warmup: int, device: torch.device,
                     progress: Progress = None
                     ) -> Tuple[Timings, Dict[str, float]]:
    """Time the functions in turn, reversing their order every other repeat
    (A B, then B A: drift on a shared machine cancels).

    Args:
        fns (dict[str, callable]): name -> function without arguments.
        repeats (int): timed calls per function.
        warmup (int): untimed calls per function first.
        device (torch.device): synchronised around every call.
        progress (callable, optional): given one line per timed call.

    Returns:
        tuple: name -> seconds per repeat, and name -> median minor page
        faults per call.
    """
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times = {name: [] for name in names}
    faults = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            synchronize(device)
            faults0, start = minor_faults(), time.perf_counter()
            fns[name]()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
            faults[name].append(minor_faults() - faults0)
            if progress is not None:
                progress(f'timed {name} {r + 1}/{repeats}: '
                         f'{times[name][-1]:.3f} s')
    return times, {k: statistics.median(v) for k, v in faults.items()}


def summarize(times: Sequence[float], flops: Optional[int] = None,
              items: int = 1) -> dict:
    """Median, min, throughput and (with ``flops``) achieved GFLOP/s.

    Args:
        times (Sequence[float]): seconds per repeat.
        flops (int, optional): FLOPs of one call.
        items (int): images per call, for the throughput.

    Returns:
        dict: the times and their summary.
    """
    times = list(times)
    median = statistics.median(times)
    out = dict(times_s=times, median_s=median, min_s=min(times),
               items_per_s=items / median)
    if flops is not None:
        out.update(gflop=flops / 1e9, gflops_per_s=flops / 1e9 / median)
    return out


def compare(times: Timings, a: str = 'ours', b: str = 'mmagic') -> dict:
    """Ratio of medians a/b and median of the per-repeat ratios."""
    return dict(
        ratio_of_medians=statistics.median(times[a]) /
        statistics.median(times[b]),
        paired_ratio_median=statistics.median(
            x / y for x, y in zip(times[a], times[b])))


# ------------------------------------------------------------ peak memory

@contextlib.contextmanager
def _without_kineto_log() -> Iterator[None]:
    """Drop the profiler backend's log lines from stderr (a CUDA build of
    torch on a machine without GPU reports that it found none; every run
    logs profiler_start/stop); anything else written to stderr meanwhile is
    passed on.

    Kineto writes from C++ straight to file descriptor 2 and offers no
    switch for all its lines (``KINETO_LOG_LEVEL`` silences errors only),
    so descriptor 2 is redirected for the duration: the one place that
    does so (tested in tests/test_analysis/test_measure.py).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(True)
                    if not _KINETO_LOG_LINE.match(line)]
            if kept:
                sys.stderr.write(b''.join(kept).decode(errors='replace'))
                sys.stderr.flush()


def allocation_records(prof: 'torch.profiler.profile'
                       ) -> List[Tuple[int, int]]:
    """(start ns, +bytes allocated / -bytes freed) of every CPU allocation
    record of a finished ``profile(profile_memory=True)``, in time order.

    The public summaries (``prof.events()``, ``key_averages()``) add each
    op's allocations up, hiding peaks inside an op; only the backend's raw
    results hold each record. They are not public API: this is the one
    function that reads them, and tests/test_analysis/test_measure.py fails
    when torch changes them.

    Raises:
        RuntimeError: this torch's profiler no longer has the raw results.
    """
    from torch.autograd import DeviceType
    try:
        events = prof.profiler.kineto_results.events()
        records = sorted((e.start_ns(), i, e.nbytes())
                         for i, e in enumerate(events)
                         if e.name() == _MEMORY_RECORD
                         and e.device_type() == DeviceType.CPU)
    except AttributeError as err:
        raise RuntimeError(
            f'torch {torch.__version__}: the profiler\'s raw results '
            '(profile.profiler.kineto_results.events(), with name(), '
            'start_ns(), nbytes(), device_type()) changed, so CPU peak '
            f'memory cannot be measured: {err}') from err
    return [(start, nbytes) for start, _, nbytes in records]


def _cpu_peak_bytes(fn: Callable[[], Any]) -> int:
    from torch.profiler import ProfilerActivity, profile
    with _without_kineto_log():
        with profile(activities=[ProfilerActivity.CPU],
                     profile_memory=True) as prof:
            fn()
    live = peak = 0
    for _, nbytes in allocation_records(prof):
        live += nbytes
        peak = max(peak, live)
    return peak


def measure_peak_memory(fn: Callable[[], Any],
                        device: torch.device) -> Optional[int]:
    """Peak bytes PyTorch allocates during ``fn()``, beyond those allocated
    before it (the module docstring's definition, per device).

    Args:
        fn (callable): the work, e.g. one forward.
        device (torch.device): where it runs.

    Returns:
        int | None: bytes; None on devices other than CUDA and CPU.
    """
    if device.type == 'cuda':
        before = reset_process_peak(device)
        fn()
        return process_peak(device) - before
    if device.type == 'cpu':
        return _cpu_peak_bytes(fn)
    return None


def _proc_status_bytes(key: str) -> int:
    with open('/proc/self/status') as f:
        kib = re.search(rf'^{key}:\s+(\d+)', f.read(), re.M).group(1)
    return int(kib) * 1024


def reset_process_peak(device: torch.device) -> int:
    """Reset the peak of ``process_peak``; return the bytes in use now.

    CUDA: allocated bytes (peak statistics reset). CPU: resident set size,
    ``VmHWM`` reset to it through ``/proc/self/clear_refs`` (Linux).
    """
    if device.type == 'cuda':
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write(_RESET_HWM)
    return _proc_status_bytes('VmRSS')


def process_peak(device: torch.device) -> int:
    """Peak bytes since ``reset_process_peak``: CUDA
    ``max_memory_allocated``, CPU the resident set's high-water mark."""
    if device.type == 'cuda':
        synchronize(device)
        return torch.cuda.max_memory_allocated(device)
    return _proc_status_bytes('VmHWM')


def keep_freed_memory() -> bool:
    """glibc: never return freed memory to the OS.

    Same effect as ``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.
    trim_threshold=...`` but set from inside the process: large blocks come
    from the heap and stay there, so reusing them needs no fresh pages.

    Returns:
        bool: whether glibc accepted both settings.
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, C_INT_MAX))
