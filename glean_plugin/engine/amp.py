"""Mixed precision for training: ``--amp`` and ``AmpOptimWrapper``
configs, with a warning where the chosen dtype is only emulated on the
device (``glean_plugin.hardware``)."""
from typing import Optional

from mmengine.config import Config

from ..hardware import warn_slow_dtype

__all__ = ['enable_amp', 'warn_slow_amp']

AMP_WRAPPER = 'AmpOptimWrapper'
# The dtype mmengine's AmpOptimWrapper autocasts to when none is given.
AMP_DEFAULT_DTYPE = 'float16'


def enable_amp(cfg: Config) -> None:
    """Switch every ``OptimWrapper`` of ``cfg.optim_wrapper`` to AMP.

    Args:
        cfg (Config): config edited in place.

    Raises:
        ValueError: no accelerator (mmengine's ``AmpOptimWrapper`` refuses
            CPU training), or an optimizer wrapper is neither
            ``OptimWrapper`` nor ``AmpOptimWrapper``.
    """
    from mmengine.device import get_device
    if get_device() == 'cpu':
        raise ValueError('--amp needs a GPU (or NPU/MLU): mmengine\'s '
                         'AmpOptimWrapper does not train on CPU')
    for wrapper in _wrappers(cfg):
        if wrapper['type'] == AMP_WRAPPER:
            continue
        if wrapper['type'] != 'OptimWrapper':
            raise ValueError('--amp needs optimizer wrappers of type '
                             f"'OptimWrapper', got {wrapper['type']!r}")
        wrapper['type'] = AMP_WRAPPER
        wrapper.setdefault('loss_scale', 'dynamic')


def _wrappers(cfg: Config) -> list:
    """The optimizer wrapper dicts of ``cfg.optim_wrapper`` (one, or one per
    sub-model)."""
    wrappers = cfg.get('optim_wrapper') or {}
    if 'type' in wrappers:
        return [wrappers]
    return [v for v in wrappers.values()
            if isinstance(v, dict) and 'type' in v]


def warn_slow_amp(cfg: Config, device=None, what: Optional[str] = None
                  ) -> bool:
    """Warn once (``hardware.SlowDtypeWarning``, naming the reason) when an
    ``AmpOptimWrapper`` of ``cfg`` autocasts to a dtype that ``device`` only
    emulates (e.g. bfloat16 on a CPU without AVX512-BF16/AMX).

    Args:
        cfg (Config): the config, after ``enable_amp`` if ``--amp``.
        device (str | torch.device, optional): default: mmengine's
            ``get_device()``, where the Runner trains.
        what (str, optional): the option named in the warning (e.g.
            ``'--amp'``); default: the wrapper and its dtype.

    Returns:
        bool: True if a dtype of the config is slow on ``device``.
    """
    from mmengine.device import get_device
    device = device or get_device()
    slow = False
    for wrapper in _wrappers(cfg):
        if wrapper['type'] != AMP_WRAPPER:
            continue
        # mmengine's autocast default on CUDA (and ours here) is float16
        dtype = wrapper.get('dtype') or AMP_DEFAULT_DTYPE
        name = what or f"optim_wrapper type='{AMP_WRAPPER}', dtype='{dtype}'"
        slow |= warn_slow_dtype(dtype, device, name)
    return slow
