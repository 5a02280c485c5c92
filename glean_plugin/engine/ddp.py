"""Separate DDP for GAN models whose checkpoints load back.

MMagic's GLEAN configs wrap each sub-model (generator, discriminator) in its
own DDP (``MMSeparateDistributedDataParallel``). The saved keys then read
``generator.module.…``; loading expects ``generator.…``, logs the mismatch
and goes on with fresh weights, so a distributed ``--resume`` or
``tools/test.py`` silently uses untrained weights. This wrapper saves the
keys without ``.module.`` (mmengine's loader unwraps the DDP children itself
and expects them so), and strips ``.module.`` from checkpoints that still have
it. It also works on CPU (gloo): DDP refuses ``device_ids`` for CPU modules.
"""
from typing import Dict, Iterable, Optional, Sequence

import torch.nn as nn
from mmengine.device import get_device
from mmengine.model import MMSeparateDistributedDataParallel

from ..registry import MODEL_WRAPPERS

__all__ = ['GLEANSeparateDDP', 'strip_ddp_keys']

_DDP_INFIX = '.module.'


def strip_ddp_keys(state: Dict, wrapped: Iterable[str],
                   prefix: str = '') -> None:
    """Rename ``{prefix}{name}.module.x`` to ``{prefix}{name}.x`` in place.

    Args:
        state (dict): state dict to edit.
        wrapped (Iterable[str]): names of the DDP-wrapped children.
        prefix (str): key prefix of the parent module.
    """
    for name in wrapped:
        head = f'{prefix}{name}{_DDP_INFIX}'
        for key in [k for k in state if k.startswith(head)]:
            state[f'{prefix}{name}.{key[len(head):]}'] = state.pop(key)


@MODEL_WRAPPERS.register_module()
class GLEANSeparateDDP(MMSeparateDistributedDataParallel):
    """``MMSeparateDistributedDataParallel`` with loadable checkpoints.

    Args:
        module (nn.Module): the model (e.g. ``SRGAN``).
        broadcast_buffers (bool): as DDP. Default: False.
        find_unused_parameters (bool): as DDP. Default: False.
        device_ids (Sequence[int], optional): as DDP; dropped on CPU.
        **kwargs: passed to each sub-model's DDP.
    """

    def __init__(self,
                 module: nn.Module,
                 broadcast_buffers: bool = False,
                 find_unused_parameters: bool = False,
                 device_ids: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        if get_device() != 'cpu' and device_ids is not None:
            kwargs['device_ids'] = device_ids
        super().__init__(module, broadcast_buffers=broadcast_buffers,
                         find_unused_parameters=find_unused_parameters,
                         **kwargs)
        wrapped = [name for name, child in module.named_children()
                   if isinstance(child, nn.parallel.DistributedDataParallel)]

        def save_hook(mod, state, prefix, local_metadata):
            strip_ddp_keys(state, wrapped, prefix)
            return state

        def load_hook(state, prefix, *args):
            strip_ddp_keys(state, wrapped, prefix)

        module._register_state_dict_hook(save_hook)
        module._register_load_state_dict_pre_hook(load_hook)
