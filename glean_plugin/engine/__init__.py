"""Runner-side pieces: the distributed wrapper, the training hooks and the
metrics file of a test run (``MetricsJsonHook``)."""
from .ddp import GLEANSeparateDDP, strip_ddp_keys
from .hooks import (AtomicCheckpointHook, EMACheckpointLayoutHook,
                    FiniteLossHook, NonFiniteLossError, SampleGridHook)
from .outputs import MetricsJsonHook

__all__ = ['AtomicCheckpointHook', 'EMACheckpointLayoutHook',
           'FiniteLossHook', 'GLEANSeparateDDP', 'MetricsJsonHook',
           'NonFiniteLossError', 'SampleGridHook', 'strip_ddp_keys']
