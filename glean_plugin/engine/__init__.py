"""Runner-side pieces: the distributed wrapper."""
from .ddp import GLEANSeparateDDP, strip_ddp_keys

__all__ = ['GLEANSeparateDDP', 'strip_ddp_keys']
