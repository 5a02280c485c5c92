"""The check ``tools/test.py`` makes before testing: the checkpoint holds
exactly the config's generator weights."""
import torch.nn as nn
from mmengine.model import is_model_wrapper

from ..checkpoint import check_state_dict, load_state_dict_from_file
from .ddp import strip_ddp_keys

__all__ = ['check_generator_checkpoint']

# Sub-models whose weights a test checkpoint must hold.
_CHECKED_SUBMODELS = ('generator', 'generator_ema')


def check_generator_checkpoint(model: nn.Module, checkpoint: str) -> None:
    """Raise unless ``checkpoint`` holds exactly the weights of the model's
    generator (and ``generator_ema``, if it has one).

    mmengine loads test checkpoints non-strictly: a checkpoint of another
    architecture would only log a warning and the test would run on random
    weights.

    Args:
        model (nn.Module): the built model (or its wrapper).
        checkpoint (str): the checkpoint path or URL.

    Raises:
        FileNotFoundError: no such checkpoint.
        CheckpointMismatchError: unreadable, or missing, unexpected or
            mis-shaped generator keys (listed).
    """
    if is_model_wrapper(model):
        model = model.module
    names = [n for n in _CHECKED_SUBMODELS
             if isinstance(getattr(model, n, None), nn.Module)]
    if not names:
        return
    state = load_state_dict_from_file(checkpoint)
    strip_ddp_keys(state, names)
    for name in names:
        head = f'{name}.'
        sub = {k[len(head):]: v for k, v in state.items()
               if k.startswith(head)}
        module = getattr(model, name)
        if is_model_wrapper(module):  # each sub-model in its own DDP
            module = module.module
        check_state_dict(sub, module.state_dict(),
                         f'{name} of the config ({type(module).__name__})',
                         f'checkpoint {checkpoint!r}')
