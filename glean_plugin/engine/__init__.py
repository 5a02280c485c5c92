"""Runner-side pieces: the distributed wrapper and the training hooks."""
from .ddp import GLEANSeparateDDP, strip_ddp_keys
from .hooks import AtomicCheckpointHook, FiniteLossHook, NonFiniteLossError

__all__ = ['AtomicCheckpointHook', 'FiniteLossHook', 'GLEANSeparateDDP',
           'NonFiniteLossError', 'strip_ddp_keys']
