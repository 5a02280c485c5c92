"""What ``tools/infer.py`` and ``tools/retouch.py`` share: the model
arguments, warnings shown as ``warning: ...`` and errors as ``error: ...``."""
import argparse
import sys
import warnings
from typing import Callable, Tuple

import torch.nn as nn

from ..engine.launch import explain_build_error
from .files import InputSkippedWarning
from .generator import InferenceSettings, init_generator, load_config
from .inference import InputResizedWarning, InputSizeError

__all__ = ['USER_ERRORS', 'add_model_arguments', 'build_from_args',
           'int_at_least', 'run_main']

# Errors that mean bad input, not a bug: printed without a traceback.
USER_ERRORS = (FileNotFoundError, FileExistsError, ValueError, OSError)
# Exit status for them (as tools/prepare_data.py and argparse).
USER_ERROR_STATUS = 2
RESIZE_HINT = ' (pass --resize to resize MATLAB-like, with a warning)'
_SHOWN_WARNINGS = (InputSkippedWarning, InputResizedWarning)


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


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """CONFIG, CHECKPOINT and the options that pick how the model runs."""
    parser.add_argument('config', help='the config the checkpoint was '
                        'trained with')
    parser.add_argument('checkpoint', help='checkpoint: an mmengine one '
                        '(generator_ema./generator. keys) or a bare '
                        'generator state dict')
    parser.add_argument('--device', default=None,
                        help='cpu, cuda, cuda:1, ... (default: cuda if '
                        'available, else cpu)')
    parser.add_argument('--checkpoint-prefix', default=None,
                        help="key prefix of the generator in CHECKPOINT, '' "
                        'for a bare state dict (default: generator_ema or '
                        'generator, whichever fits)')


def build_from_args(args: argparse.Namespace
                    ) -> Tuple[nn.Module, InferenceSettings]:
    """The generator and image settings that ``add_model_arguments`` name."""
    cfg = load_config(args.config)
    settings = InferenceSettings.from_config(cfg)
    generator = init_generator(cfg, args.checkpoint, args.device,
                               args.checkpoint_prefix)
    return generator, settings


def _show_warning(message, category, filename, lineno, file=None,
                  line=None, _default=warnings.showwarning) -> None:
    if issubclass(category, _SHOWN_WARNINGS):
        print(f'warning: {message}', file=sys.stderr, flush=True)
    else:
        _default(message, category, filename, lineno, file, line)


def run_main(main: Callable[[], int]) -> int:
    """Run a tool's ``main`` showing every input warning (even under
    ``PYTHONWARNINGS=ignore``) and user errors (bad paths, values, configs)
    as one ``error:`` line.

    Args:
        main (callable): returns the exit status.

    Returns:
        int: ``main``'s status, or 2 after a user error.
    """
    with warnings.catch_warnings():
        for category in _SHOWN_WARNINGS:
            warnings.simplefilter('always', category)
        warnings.showwarning = _show_warning
        try:
            return main()
        except InputSizeError as err:
            print(f'error: {err}{RESIZE_HINT}', file=sys.stderr)
        except USER_ERRORS as err:
            print(f'error: {err}', file=sys.stderr)
        except (KeyError, TypeError) as err:  # mmengine's build of a config
            message = explain_build_error(err)
            if message is None:
                raise
            print(f'error: {message}', file=sys.stderr)
    return USER_ERROR_STATUS
