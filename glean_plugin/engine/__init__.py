"""Runner-side pieces: the distributed wrapper, the training hooks and what
a test run writes (``SaveImagesHook``, ``MetricsJsonHook``)."""
from .ddp import GLEANSeparateDDP, strip_ddp_keys
from .hooks import (AtomicCheckpointHook, EMACheckpointLayoutHook,
                    FiniteLossHook, NonFiniteLossError, SampleGridHook)
from .outputs import MetricsJsonHook, SaveImagesHook

__all__ = ['AtomicCheckpointHook', 'EMACheckpointLayoutHook',
           'FiniteLossHook', 'GLEANSeparateDDP', 'MetricsJsonHook',
           'NonFiniteLossError', 'SampleGridHook', 'SaveImagesHook',
           'strip_ddp_keys']
