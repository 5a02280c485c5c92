"""Activation (gradient) checkpointing: trade recomputation for memory."""
from typing import Callable

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

__all__ = ['checkpoint_call', 'set_grad_checkpointing']


def checkpoint_call(fn: Callable, *args, enabled: bool = True):
    """``fn(*args)``, keeping only the inputs for the backward pass.

    With ``enabled`` and autograd recording, ``fn``'s intermediate
    activations are not stored; the backward pass runs ``fn`` again
    (PyTorch's non-reentrant ``torch.utils.checkpoint``, RNG state
    preserved, so random noise is drawn identically). Otherwise, and always
    under ``torch.no_grad``/``inference_mode``, a plain call. Gradients reach
    every tensor ``fn`` uses, also those it captures rather than receives.

    Args:
        fn (callable): function or module.
        *args: its arguments (tensors and other values).
        enabled (bool): checkpoint at all. Default: True.

    Returns:
        Whatever ``fn`` returns.
    """
    if enabled and torch.is_grad_enabled():
        return checkpoint(fn, *args, use_reentrant=False)
    return fn(*args)


def set_grad_checkpointing(module: nn.Module, enabled: bool = True) -> int:
    """Set ``with_cp`` on every submodule of ``module`` that has it.

    Those are ``RRDB`` (and so ``RRDBFeatureExtractor``) and
    ``StyleGAN2LatentBank``.

    Args:
        module (nn.Module): searched recursively, itself included.
        enabled (bool): the value. Default: True.

    Returns:
        int: how many submodules were set.
    """
    count = 0
    for m in module.modules():
        if hasattr(m, 'with_cp'):
            m.with_cp = enabled
            count += 1
    return count
