"""Build a config's generator, load its trained weights strictly, and read
the image settings (normalisation, channel order) inference must match."""
import copy
import re
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings

from ..checkpoint import (CheckpointMismatchError, check_state_dict,
                          keys_under, load_state_dict_from_file)
from ..engine.config import ConfigError, read_config
from ..engine.ddp import strip_ddp_keys
from ..registry import MODELS

__all__ = ['InferenceSettings', 'init_generator', 'load_config',
           'load_generator_state', 'resolve_device']

# Where MMagic's GAN editors keep the generator in a checkpoint's state dict;
# EMA weights first: a model that keeps them is tested with them.
GENERATOR_PREFIXES = ('generator_ema', 'generator')
# mmagic's DataPreprocessor defaults (mean and std of a [0, 255] image).
DEFAULT_MEAN = DEFAULT_STD = (127.5, )
CHANNEL_ORDERS = ('rgb', 'bgr')
# Where a config describes how its LR images are read, in order of preference:
# inference should read images as testing does.
DATALOADERS = ('test_dataloader', 'val_dataloader', 'train_dataloader')
LR_KEY = 'img'


def load_config(config: Union[str, Config]) -> Config:
    """Read a config and import its ``custom_imports`` (as the Runner does).

    Args:
        config (str | Config): config path or a loaded config.

    Returns:
        Config: the config.

    Raises:
        FileNotFoundError: no such config file (or ``_base_`` file).
        ConfigError: the config file does not run.
        TypeError: ``config`` is neither.
    """
    if isinstance(config, str):
        config = read_config(config)
    elif not isinstance(config, Config):
        raise TypeError('config must be a path or an mmengine Config, got '
                        f'{type(config).__name__}')
    if config.get('custom_imports'):
        import_modules_from_strings(**config['custom_imports'])
    return config


def resolve_device(device: Optional[Union[str, torch.device]] = None
                   ) -> torch.device:
    """The device to run on: ``device``, or cuda if available else cpu.

    Args:
        device (str | torch.device, optional): e.g. 'cpu', 'cuda', 'cuda:1'.

    Returns:
        torch.device: a device that exists on this machine.

    Raises:
        ValueError: an unknown device name, or a CUDA device that is not
            there.
    """
    if device is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be like 'cpu', 'cuda' or 'cuda:1', "
                         f'got {device!r}') from err
    if dev.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index or 0) >= count:
            raise ValueError(f'device {str(dev)!r} is not available: this '
                             f'machine has {count} CUDA device(s)')
    return dev


def _as_tuple(value, channels: int, what: str) -> Tuple[float, ...]:
    values = tuple(float(v) for v in (
        value if isinstance(value, Sequence) else (value, )))
    if len(values) == 1:
        values *= channels
    if len(values) != channels:
        raise ValueError(f'data_preprocessor.{what} must have 1 or '
                         f'{channels} values, got {list(values)}')
    return values


def _lr_loader(cfg: Config) -> Optional[dict]:
    """The ``LoadImageFromFile`` transform that reads the LR image.

    A loader may be a list (MMagic's SISR configs test on several sets); the
    first entry is used.
    """
    for name in DATALOADERS:
        loader = cfg.get(name) or {}
        if isinstance(loader, (list, tuple)):
            loader = loader[0] if loader else {}
        pipeline = loader.get('dataset', {}).get('pipeline', [])
        for transform in pipeline:
            if (transform.get('type') == 'LoadImageFromFile'
                    and transform.get('key') == LR_KEY):
                return transform
    return None


@dataclass(frozen=True)
class InferenceSettings:
    """How images are read and normalised for the generator.

    Args:
        mean (tuple[float]): per-channel mean of the [0, 255] input.
        std (tuple[float]): per-channel std.
        channel_order (str): 'rgb' or 'bgr', the order the generator was
            trained on (images are handed around in RGB; see
            ``super_resolve``).
        color_type (str): ``mmcv.imfrombytes`` flag images are read with.
        imdecode_backend (str, optional): ``mmcv.imfrombytes`` backend.
    """

    mean: Tuple[float, ...] = DEFAULT_MEAN * 3
    std: Tuple[float, ...] = DEFAULT_STD * 3
    channel_order: str = 'rgb'
    color_type: str = 'color'
    imdecode_backend: Optional[str] = None

    def __post_init__(self) -> None:
        if self.channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS},'
                             f' got {self.channel_order!r}')
        if len(self.mean) != len(self.std):
            raise ValueError(f'mean and std must have the same length, got '
                             f'{len(self.mean)} and {len(self.std)}')
        if any(s == 0 for s in self.std):
            raise ValueError(f'std must not be zero, got {self.std}')

    @classmethod
    def from_config(cls, config: Union[str, Config]) -> 'InferenceSettings':
        """Settings of a config, as its test pipeline and model use them.

        The channel order is the data preprocessor's ``output_channel_order``
        if set, else that of the ``LoadImageFromFile`` reading ``img`` in the
        test (else val, else train) pipeline; colour type and decode backend
        come from that transform too.

        Args:
            config (str | Config): config path or config.

        Returns:
            InferenceSettings: the settings.

        Raises:
            ValueError: the config has no ``LoadImageFromFile`` for ``img``,
                or the preprocessor's mean/std do not fit the image channels.
        """
        cfg = load_config(config)
        loader = _lr_loader(cfg)
        if loader is None:
            raise ValueError(
                'cannot tell how the model reads images: the config has no '
                f"LoadImageFromFile with key='{LR_KEY}' in the pipeline of "
                f'{", ".join(DATALOADERS)}')
        channels = cfg.model.get('generator', {}).get('img_channels', 3)
        prep = cfg.model.get('data_preprocessor') or {}
        # mmagic's LoadImageFromFile defaults
        order = loader.get('channel_order', 'bgr')
        if prep.get('output_channel_order'):
            order = prep['output_channel_order']
        return cls(
            mean=_as_tuple(prep.get('mean', DEFAULT_MEAN), channels, 'mean'),
            std=_as_tuple(prep.get('std', DEFAULT_STD), channels, 'std'),
            channel_order=order.lower(),
            color_type=loader.get('color_type', 'color'),
            imdecode_backend=loader.get('imdecode_backend'))


def _select_prefix(state: Dict[str, torch.Tensor],
                   expected: Sequence[str]) -> str:
    """The prefix under which ``state`` best matches the expected keys."""
    expected = set(expected)
    best, best_overlap = None, 0
    for prefix in GENERATOR_PREFIXES + ('', ):
        head = f'{prefix}.' if prefix else ''
        overlap = sum(1 for k in state
                      if k.startswith(head) and k[len(head):] in expected)
        if overlap > best_overlap:
            best, best_overlap = prefix, overlap
    if best is not None:
        return best
    present = [p for p in GENERATOR_PREFIXES
               if any(k.startswith(p + '.') for k in state)]
    return present[0] if present else ''


def load_generator_state(checkpoint: str,
                         generator: nn.Module,
                         prefix: Optional[str] = None
                         ) -> Tuple[Dict[str, torch.Tensor], str]:
    """Read the generator's weights out of a checkpoint.

    Args:
        checkpoint (str): mmengine checkpoint (``state_dict`` with
            ``generator.`` / ``generator_ema.`` keys, as MMagic's ``SRGAN``
            saves) or a bare generator state dict.
        generator (nn.Module): the module the weights are for (its keys pick
            the prefix when ``prefix`` is None).
        prefix (str, optional): key prefix of the generator; '' for a bare
            state dict. None (default): whichever of 'generator_ema',
            'generator' and '' matches the generator's keys best.

    Returns:
        tuple: the state dict (prefix stripped) and a description of its
        source for messages.

    Raises:
        FileNotFoundError: no such checkpoint.
        CheckpointMismatchError: not a checkpoint, or nothing under
            ``prefix``.
    """
    state = load_state_dict_from_file(checkpoint)
    strip_ddp_keys(state, GENERATOR_PREFIXES)
    if prefix is None:
        prefix = _select_prefix(state, generator.state_dict().keys())
    if prefix:
        state = keys_under(state, prefix, checkpoint)
    return state, f'checkpoint {checkpoint!r} (prefix {prefix!r})'


def _block_count(state: Dict[str, torch.Tensor], module: str) -> int:
    pattern = re.compile(rf'^{module}\.(\d+)\.')
    indices = [int(m.group(1)) for m in map(pattern.match, state) if m]
    return max(indices) + 1 if indices else 0


def _mismatch_hint(state: Dict[str, torch.Tensor],
                   generator: nn.Module) -> str:
    """Why a GLEAN state dict may not fit: sizes, or not a GLEAN at all."""
    num_enc = _block_count(state, 'encoder')
    if num_enc == 0:
        return ('  the checkpoint holds no GLEAN encoder: is it a StyleGAN2 '
                'checkpoint (the latent bank that training starts from) '
                'rather than a trained GLEAN?')
    num_dec = _block_count(state, 'decoder')
    in_size, out_size = getattr(generator, 'in_size', None), getattr(
        generator, 'out_size', None)
    if in_size is None or out_size is None or num_dec == 0:
        return ''
    # GLEANNet: log2(in_size) encoder blocks, log2(out/in) + 1 decoder blocks
    ckpt_in = 2**num_enc
    ckpt_out = ckpt_in * 2**(num_dec - 1)
    if (ckpt_in, ckpt_out) == (in_size, out_size):
        return ''
    return (f'  the checkpoint looks like a GLEAN with in_size={ckpt_in}, '
            f'out_size={ckpt_out} (from its encoder and decoder depth), the '
            f'config builds in_size={in_size}, out_size={out_size}: use the '
            'config the checkpoint was trained with')


def init_generator(config: Union[str, Config],
                   checkpoint: str,
                   device: Optional[Union[str, torch.device]] = None,
                   prefix: Optional[str] = None) -> nn.Module:
    """Build ``config.model.generator`` and load a checkpoint into it strictly.

    Only the generator is built (not the discriminator or the losses, whose
    pretrained weights inference does not need) and its ``init_cfg`` is not
    applied: every weight comes from ``checkpoint``.

    Args:
        config (str | Config): the training config (``model.generator``).
        checkpoint (str): see ``load_generator_state``.
        device (str | torch.device, optional): default: cuda if available,
            else cpu.
        prefix (str, optional): see ``load_generator_state``.

    Returns:
        nn.Module: the generator in eval mode, without gradients, on
        ``device``.

    Raises:
        FileNotFoundError: no such checkpoint.
        CheckpointMismatchError: the checkpoint does not fit the config's
            generator: missing, unexpected and mis-shaped keys are listed,
            and a size mismatch (in_size/out_size) is named.
        ConfigError: ``model.generator`` does not build (an unknown
            ``type``, an argument its class does not take).
        ValueError: the config has no ``model.generator``, or a bad device.
    """
    cfg = load_config(config)
    device = resolve_device(device)
    if not cfg.get('model', {}).get('generator'):
        raise ValueError('the config has no model.generator to build')
    try:
        generator = MODELS.build(copy.deepcopy(cfg.model.generator))
    except (KeyError, TypeError) as err:
        # imported here: glean_plugin.cli imports this package
        from ..cli import explain_build_error
        message = explain_build_error(err)
        if message is None:
            raise
        raise ConfigError(f'model.generator: {message}') from err
    state, source = load_generator_state(checkpoint, generator, prefix)
    try:
        what = f'generator of the config ({type(generator).__name__})'
        check_state_dict(state, generator.state_dict(), what, source)
    except CheckpointMismatchError as err:
        hint = _mismatch_hint(state, generator)
        raise CheckpointMismatchError(
            str(err) + (f'\n{hint}' if hint else '')) from err
    generator.load_state_dict(state, strict=True)
    return generator.to(device).eval().requires_grad_(False)
