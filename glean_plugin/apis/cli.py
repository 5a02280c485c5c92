"""What ``tools/infer.py``, ``tools/retouch.py`` and ``tools/benchmark.py``
share: the model arguments and argument types (warnings, errors and exit
statuses are ``glean_plugin.cli``'s, as for every tool)."""
import argparse
from typing import Callable, Tuple

import torch.nn as nn

from .generator import InferenceSettings, init_generator, load_config
from .inference import DEFAULT_RESIZE_MODE, RESIZE_MODES

__all__ = ['add_model_arguments', 'add_resize_arguments', 'build_from_args',
           'check_resize_arguments', 'int_at_least']


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an int >= ``minimum``, else a message naming both.

    Args:
        minimum (int): the smallest accepted value.

    Returns:
        callable: str -> int, raising ``argparse.ArgumentTypeError``.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'expected an integer, got {text!r}') from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f'expected an integer >= {minimum}, got {value}')
        return value

    return parse


def add_model_arguments(parser: argparse.ArgumentParser,
                        as_options: bool = False,
                        config_help: str = 'the config the checkpoint was '
                        'trained with') -> None:
    """CONFIG, CHECKPOINT and the options that pick how the model runs.

    ``as_options``: ``--config``/``--checkpoint`` (required options), for
    tools whose positional arguments are their input and output.
    """
    prefix = '--' if as_options else ''
    required = dict(required=True) if as_options else {}
    parser.add_argument(prefix + 'config', help=config_help, **required)
    parser.add_argument(prefix + 'checkpoint', help='checkpoint: an mmengine '
                        'one (generator_ema./generator. keys) or a bare '
                        'generator state dict', **required)
    parser.add_argument('--device', default=None,
                        help='cpu, cuda, cuda:1, ... (default: cuda if '
                        'available, else cpu)')
    parser.add_argument('--checkpoint-prefix', default=None,
                        help="key prefix of the generator in CHECKPOINT, '' "
                        'for a bare state dict (default: generator_ema or '
                        'generator, whichever fits)')


def add_resize_arguments(parser: argparse.ArgumentParser,
                         resize_help: str) -> None:
    """``--resize`` (help text ``resize_help``) and ``--resize-mode``."""
    parser.add_argument('--resize', action='store_true', help=resize_help)
    parser.add_argument('--resize-mode', choices=RESIZE_MODES, default=None,
                        help='with --resize: pad = letterbox (resize to fit '
                        "inside, pad with the model's padding colour: black "
                        "for GLEAN), crop = centre crop to the model's "
                        f'aspect ratio (default: {DEFAULT_RESIZE_MODE})')


def check_resize_arguments(parser: argparse.ArgumentParser,
                           args: argparse.Namespace) -> None:
    """Refuse ``--resize-mode`` without ``--resize``; fill in the default."""
    if args.resize_mode is not None and not args.resize:
        parser.error('--resize-mode needs --resize')
    args.resize_mode = args.resize_mode or DEFAULT_RESIZE_MODE


def build_from_args(args: argparse.Namespace
                    ) -> Tuple[nn.Module, InferenceSettings]:
    """The generator and image settings that ``add_model_arguments`` name."""
    cfg = load_config(args.config)
    settings = InferenceSettings.from_config(cfg)
    generator = init_generator(cfg, args.checkpoint, args.device,
                               args.checkpoint_prefix)
    return generator, settings
