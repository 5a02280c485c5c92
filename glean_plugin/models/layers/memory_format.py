"""Convert a model's parameters and buffers to channels_last."""
import torch
import torch.nn as nn

__all__ = ['to_channels_last_']


def to_channels_last_(module: nn.Module) -> nn.Module:
    """Store every 4D parameter and buffer of ``module`` channels_last.

    ``nn.Module.to(memory_format=torch.channels_last)`` refuses modules with
    5D tensors, such as the StyleGAN2 weights ``(1, O, I, K, K)`` (left as
    they are here). Parameters keep their identity (optimizers holding them
    stay valid); ``load_state_dict`` and ``.to(device)`` keep the layout.
    Convolutions then run channels_last when their input is channels_last,
    which on CPU avoids oneDNN's layout conversions (``benchmark_speed.py
    --channels-last``).

    Args:
        module (nn.Module): converted in place.

    Returns:
        nn.Module: ``module``.
    """
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.ndim == 4:
                tensor.data = tensor.data.contiguous(
                    memory_format=torch.channels_last)
    return module
