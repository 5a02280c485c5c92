"""What the machine can do fast: the device's name, and low-precision dtypes
that it only emulates.

One home for these facts: the speed harness, ``tools/train.py --amp``, the
``-bf16``/``-fp16`` configs and inference all ask here, so a user hears the
same reason once, wherever the slow option was chosen.

bfloat16 on a CPU without bfloat16 instructions (AVX512-BF16 or AMX-BF16)
is computed by conversion to and from float32 around every op: autocast then
costs several times float32's time instead of saving it. float16 on a CPU
without AVX512-FP16 or AMX-FP16 is the same. On CUDA, bfloat16 needs compute
capability 8.0 (Ampere) or newer.
"""
import platform
import warnings
from typing import FrozenSet, Optional, Set, Tuple, Union

import torch

__all__ = ['SlowDtypeWarning', 'cpu_flags', 'device_name',
           'slow_dtype_reason', 'warn_slow_dtype']

# /proc/cpuinfo flags that give the CPU native arithmetic in a dtype.
_CPU_FLAGS = {
    torch.bfloat16: ('avx512_bf16', 'amx_bf16'),
    torch.float16: ('avx512_fp16', 'amx_fp16'),
}
_DTYPE_NAMES = {torch.bfloat16: 'bfloat16', torch.float16: 'float16'}
_warned: Set[Tuple[str, str, str]] = set()


class SlowDtypeWarning(UserWarning):
    """An option asks for a dtype that this device only emulates."""


def _cpuinfo_lines():
    try:
        with open('/proc/cpuinfo') as f:
            return f.read().splitlines()
    except OSError:
        return []


def cpu_flags() -> Optional[FrozenSet[str]]:
    """The CPU's feature flags from /proc/cpuinfo, or None where the system
    does not say (not Linux)."""
    for line in _cpuinfo_lines():
        if line.startswith('flags'):
            return frozenset(line.partition(':')[2].split())
    return None


def device_name(device: Union[str, torch.device] = 'cpu') -> str:
    """The CUDA device's name, or the CPU model (from /proc/cpuinfo where
    the system has it)."""
    device = torch.device(device)
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    for line in _cpuinfo_lines():
        if line.startswith('model name'):
            return line.partition(':')[2].strip()
    return platform.processor() or 'unknown CPU'


def slow_dtype_reason(dtype: Optional[Union[str, torch.dtype]],
                      device: Union[str, torch.device] = 'cpu'
                      ) -> Optional[str]:
    """Why ``dtype`` is known to be slow on ``device``, or None.

    ``dtype`` may be a torch dtype or its name ('bfloat16', 'bf16',
    'float16', 'fp16', 'half'); None and float32 are never slow. Unknown
    hardware (no /proc/cpuinfo) is not reported: only what is known.
    """
    dtype = _as_dtype(dtype)
    if dtype not in _DTYPE_NAMES:
        return None
    name = _DTYPE_NAMES[dtype]
    device = torch.device(device)
    if device.type == 'cpu':
        flags = cpu_flags()
        if flags is None or flags & set(_CPU_FLAGS[dtype]):
            return None
        wanted = ' or '.join(f.upper().replace('_', '-')
                             for f in _CPU_FLAGS[dtype])
        return (f'this CPU ({device_name(device)}) has no {name} '
                f'instructions ({wanted}): {name} is emulated through '
                f'float32 and runs several times slower than float32')
    if device.type == 'cuda' and dtype is torch.bfloat16 \
            and torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(device)
        if major < 8:
            return (f'this GPU ({device_name(device)}, compute capability '
                    f'{major}.{minor}) has no native bfloat16 (needs 8.0 or '
                    f'newer): use float16')
    return None


def warn_slow_dtype(dtype: Optional[Union[str, torch.dtype]],
                    device: Union[str, torch.device], what: str) -> bool:
    """Warn once per (dtype, device type, what) when ``dtype`` is slow on
    ``device``; ``what`` names the option (e.g. ``'--dtype bf16'``).

    Returns True when the dtype is slow here (warned now or before).
    """
    reason = slow_dtype_reason(dtype, device)
    if reason is None:
        return False
    key = (str(_as_dtype(dtype)), torch.device(device).type, what)
    if key not in _warned:
        _warned.add(key)
        warnings.warn(f'{what}: {reason}', SlowDtypeWarning, stacklevel=2)
    return True


def _as_dtype(dtype):
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    aliases = {'bf16': torch.bfloat16, 'bfloat16': torch.bfloat16,
               'fp16': torch.float16, 'float16': torch.float16,
               'half': torch.float16, 'fp32': torch.float32,
               'float32': torch.float32, 'float': torch.float32}
    try:
        return aliases[str(dtype).lower().replace('torch.', '')]
    except KeyError:
        raise ValueError(f'unknown dtype {dtype!r}: expected one of '
                         f'{sorted(aliases)} or a torch.dtype') from None
