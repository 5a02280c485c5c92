"""Runner-side pieces: the distributed wrapper and the training hooks."""
from .ddp import GLEANSeparateDDP, strip_ddp_keys
from .hooks import (AtomicCheckpointHook, EMACheckpointLayoutHook,
                    FiniteLossHook, NonFiniteLossError, SampleGridHook)

__all__ = ['AtomicCheckpointHook', 'EMACheckpointLayoutHook',
           'FiniteLossHook', 'GLEANSeparateDDP', 'NonFiniteLossError',
           'SampleGridHook', 'strip_ddp_keys']
