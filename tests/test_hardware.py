"""``glean_plugin.hardware``: which dtypes this machine only emulates, said
once with the reason (the CPU is faked through ``_cpuinfo_lines``)."""
import warnings

import pytest
import torch

from glean_plugin import hardware

AVX2_CPU = 'AMD EPYC 7B13'
AMX_CPU = 'Intel(R) Xeon(R) Platinum 8481C'


def _cpuinfo(monkeypatch, model: str, flags: str) -> None:
    monkeypatch.setattr(hardware, '_cpuinfo_lines', lambda: [
        'processor\t: 0', f'model name\t: {model}', f'flags\t\t: {flags}'])
    monkeypatch.setattr(hardware, '_warned', set())


@pytest.fixture
def avx2_cpu(monkeypatch):
    _cpuinfo(monkeypatch, AVX2_CPU, 'fpu sse2 avx avx2 fma')


@pytest.fixture
def amx_cpu(monkeypatch):
    _cpuinfo(monkeypatch, AMX_CPU,
             'avx2 avx512f avx512_bf16 amx_bf16 amx_tile avx512_fp16')


def test_flags_and_name(avx2_cpu):
    assert hardware.cpu_flags() == frozenset(
        {'fpu', 'sse2', 'avx', 'avx2', 'fma'})
    assert hardware.device_name('cpu') == AVX2_CPU


def test_no_cpuinfo_says_nothing(monkeypatch):
    monkeypatch.setattr(hardware, '_cpuinfo_lines', lambda: [])
    assert hardware.cpu_flags() is None
    assert hardware.slow_dtype_reason('bf16', 'cpu') is None


@pytest.mark.parametrize('dtype', ['bf16', 'bfloat16', torch.bfloat16])
def test_bf16_without_instructions_names_cpu_and_flag(avx2_cpu, dtype):
    reason = hardware.slow_dtype_reason(dtype, 'cpu')
    assert AVX2_CPU in reason
    assert 'AVX512-BF16' in reason and 'AMX-BF16' in reason
    assert 'bfloat16' in reason


def test_fp16_without_instructions(avx2_cpu):
    assert 'AVX512-FP16' in hardware.slow_dtype_reason('fp16', 'cpu')


def test_amx_cpu_is_not_slow(amx_cpu):
    assert hardware.slow_dtype_reason('bfloat16', 'cpu') is None
    assert hardware.slow_dtype_reason(torch.float16, 'cpu') is None


@pytest.mark.parametrize('dtype', [None, 'float32', 'fp32', torch.float32])
def test_float32_is_never_slow(avx2_cpu, dtype):
    assert hardware.slow_dtype_reason(dtype, 'cpu') is None


def test_unknown_dtype_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown dtype 'bf61'.*"
                       r"'bf16'.*'fp16'"):
        hardware.slow_dtype_reason('bf61', 'cpu')


def test_warns_once(avx2_cpu):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert hardware.warn_slow_dtype('bf16', 'cpu', '--dtype bf16')
        assert hardware.warn_slow_dtype(torch.bfloat16, 'cpu', '--dtype bf16')
    (warning, ) = caught
    assert issubclass(warning.category, hardware.SlowDtypeWarning)
    assert str(warning.message).startswith(f'--dtype bf16: this CPU '
                                           f'({AVX2_CPU})')


def test_no_warning_where_fast(amx_cpu):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert not hardware.warn_slow_dtype('bf16', 'cpu', '--dtype bf16')
