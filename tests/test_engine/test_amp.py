"""Speed options tell the truth: ``--amp`` and ``AmpOptimWrapper`` configs
warn once, with the reason, where their dtype is only emulated (the CPU is
faked through ``glean_plugin.hardware``)."""
import os.path as osp
import warnings

import pytest
from mmengine.config import Config

from glean_plugin import hardware
from glean_plugin.engine.amp import warn_slow_amp
from glean_plugin.engine.config import read_config
from tests.support.helpers import REPO_ROOT

BF16_CONFIG = osp.join(REPO_ROOT, 'configs', 'glean_cat_8x-bf16.py')
AVX2_CPU = 'AMD EPYC 7B13'


@pytest.fixture
def cpu(monkeypatch):
    """``cpu(flags)``: fake a CPU with these /proc/cpuinfo flags."""
    def fake(flags: str) -> None:
        monkeypatch.setattr(hardware, 'cpu_flags',
                            lambda: frozenset(flags.split()))
        monkeypatch.setattr(hardware, 'device_name', lambda device: AVX2_CPU)
        monkeypatch.setattr(hardware, '_warned', set())
    return fake


def _warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        result = fn()
    return result, [str(w.message) for w in caught
                    if issubclass(w.category, hardware.SlowDtypeWarning)]


def test_bf16_config_warns_once_on_a_cpu_without_bf16(cpu):
    cpu('avx2 fma')
    cfg = read_config(BF16_CONFIG)
    slow, messages = _warnings(lambda: warn_slow_amp(cfg, 'cpu'))
    assert slow is True
    (message, ) = messages  # two wrappers, one warning
    assert message.startswith("optim_wrapper type='AmpOptimWrapper', "
                              "dtype='bfloat16': this CPU (AMD EPYC 7B13)")
    assert 'AVX512-BF16' in message
    # asked again (e.g. a second run in the process): not repeated
    assert _warnings(lambda: warn_slow_amp(cfg, 'cpu'))[1] == []


def test_bf16_config_is_quiet_where_native(cpu):
    cpu('avx2 avx512_bf16 amx_bf16')
    slow, messages = _warnings(
        lambda: warn_slow_amp(read_config(BF16_CONFIG), 'cpu'))
    assert (slow, messages) == (False, [])


def test_amp_wrapper_without_dtype_is_float16(cpu):
    cpu('avx2 avx512_bf16')
    cfg = Config(dict(optim_wrapper=dict(type='AmpOptimWrapper')))
    slow, (message, ) = _warnings(lambda: warn_slow_amp(cfg, 'cpu'))
    assert slow and "dtype='float16'" in message and 'AVX512-FP16' in message


def test_amp_option_is_named(monkeypatch):
    """``--amp`` (after ``enable_amp``) on a GPU that emulates the dtype."""
    monkeypatch.setattr(hardware, '_warned', set())
    monkeypatch.setattr(hardware, 'slow_dtype_reason',
                        lambda dtype, device: f'{dtype} is slow on {device}')
    cfg = Config(dict(optim_wrapper=dict(
        generator=dict(type='AmpOptimWrapper', loss_scale='dynamic'),
        discriminator=dict(type='AmpOptimWrapper', loss_scale='dynamic'))))
    slow, messages = _warnings(lambda: warn_slow_amp(cfg, 'cuda', '--amp'))
    assert slow and messages == ['--amp: float16 is slow on cuda']


def test_plain_optim_wrappers_say_nothing(monkeypatch):
    monkeypatch.setattr(hardware, 'slow_dtype_reason',
                        lambda dtype, device: 'always slow')
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper')))
    assert _warnings(lambda: warn_slow_amp(cfg, 'cpu')) == (False, [])
