"""What every tool in ``tools/`` shares: one table of exit statuses and one
wrapper, ``run_tool``, that turns what goes wrong into them.

Bad input (a config, a path, a checkpoint, an image, data) ends as one
``error: ...`` line on stderr and status ``EXIT_BAD_INPUT``; work that ran
but could not finish everything (a NaN/Inf loss, images that were skipped)
ends as one ``error: ...`` line and ``EXIT_PARTIAL``; anything else is a bug
and keeps its traceback. The package's input warnings are shown as
``warning: ...`` lines, even under ``PYTHONWARNINGS=ignore``.
"""
import difflib
import errno
import os
import re
import sys
import warnings
from typing import Any, Callable, List, Optional

from .apis.files import InputSkippedWarning
from .apis.inference import InputResizedWarning, InputSizeError
from .checkpoint import CheckpointMismatchError
from .converters.layout import ConversionWarning
from .datasets.prepare import IncompleteDatasetError
from .engine.config import ConfigError
from .engine.hooks import NonFiniteLossError
from .hardware import SlowDtypeWarning

__all__ = ['EXIT_BAD_INPUT', 'EXIT_OK', 'EXIT_PARTIAL',
           'explain_build_error', 'raised_by_build', 'run_tool',
           'user_error_message']

# Exit statuses of every tool.
EXIT_OK = 0
# The work ran but not all of it succeeded: training stopped on a NaN/Inf
# loss, some images were skipped (the others were written).
EXIT_PARTIAL = 1
# Bad input, nothing done (argparse uses 2 for bad arguments too).
EXIT_BAD_INPUT = 2

# Exceptions that end a tool with EXIT_PARTIAL.
PARTIAL_ERRORS = (NonFiniteLossError, IncompleteDatasetError)
# Warnings shown as one 'warning: ...' line each, every time.
SHOWN_WARNINGS = (InputSkippedWarning, InputResizedWarning, ConversionWarning,
                  SlowDtypeWarning)
# What to add to an error's line: how the tools that raise it get past it.
HINTS = ((InputSizeError,
          ' (pass --resize to resize MATLAB-like keeping the aspect ratio, '
          '--resize-mode pad|crop; with a warning)'),)
# File-system errors that mean a bad path or environment, not a bug.
_USER_ERRNOS = frozenset({
    errno.ENOENT, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.EACCES,
    errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT
})
_USER_OS_ERRORS = (FileNotFoundError, FileExistsError, PermissionError,
                   NotADirectoryError, IsADirectoryError)
# Errors whose message is written for the user as it stands.
_USER_ERRORS = (ConfigError, CheckpointMismatchError, IncompleteDatasetError,
                ImportError)
# mmengine's message for an unknown type: '<type> is not in the
# <scope>::<name> registry. ...' (checked against mmengine in test_cli.py).
_UNKNOWN_TYPE = re.compile(r'^(?P<type>\S+) is not in the '
                           r'(?P<scope>[^:\s]+)::(?P<name>\S+) registry')
# Python's message for a call that does not fit a class: 'Cls.__init__() got
# an unexpected keyword argument ...' / '... missing 1 required ...'.
_CALLED_CLASS = re.compile(r'^(?P<cls>[\w.]+)\.__init__\(\)')
# Names the suggestion for an unknown type is picked from (difflib cut-off).
_SUGGESTION_CUTOFF = 0.6
# Path components of the file named where a ValueError was raised.
_WHERE_PARTS = 3


def _innermost(err: BaseException):
    """The traceback entry where ``err`` was raised (None if not raised)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _registered_names(registry) -> List[str]:
    names = []
    while registry is not None:
        names += list(registry.module_dict)
        registry = registry.parent
    return names


def _find_registry(scope: str, name: str):
    """The registry ``scope::name`` (mmengine's root registries and their
    ``children``), or None."""
    import mmengine.registry as roots
    todo = [r for r in vars(roots).values()
            if isinstance(r, roots.Registry) and r.name == name]
    while todo:
        registry = todo.pop()
        if registry.scope == scope:
            return registry
        todo += list(registry.children.values())
    return None


def raised_by_build(err: BaseException) -> bool:
    """Whether mmengine's ``build_from_cfg`` raised ``err`` itself (an
    unknown type, or a call that does not fit the class), not code that it
    called (a class's ``__init__``).

    The one look into a traceback: the innermost frame's code object is
    ``build_from_cfg``'s (public traceback attributes; no frame locals, no
    file paths). ``tests/test_cli.py`` builds bad configs through a real
    registry, so a change in mmengine fails there.
    """
    from mmengine.registry import build_from_cfg
    tb = _innermost(err)
    return tb is not None and tb.tb_frame.f_code is build_from_cfg.__code__


def explain_build_error(err: BaseException) -> Optional[str]:
    """A one-line explanation of a config error raised by mmengine's build.

    Only errors that mmengine's ``build_from_cfg`` raises itself count
    (``raised_by_build``): an unknown ``type`` (``KeyError``, with
    suggestions from the registry its message names) and arguments the
    class does not take or misses (``TypeError`` of the call). Errors from
    inside a class's ``__init__`` are not config errors here (None).

    Args:
        err (BaseException): the exception.

    Returns:
        str | None: the explanation, or None when ``err`` is not a config
        error of the build.
    """
    if not isinstance(err, (KeyError, TypeError)) or \
            not raised_by_build(err):
        return None
    message = err.args[0] if err.args else str(err)
    if isinstance(err, KeyError):
        unknown = _UNKNOWN_TYPE.match(str(message))
        registry = unknown and _find_registry(unknown['scope'],
                                              unknown['name'])
        if registry is None:
            return f'the config is not buildable: {message}'
        obj_type = unknown['type']
        close = difflib.get_close_matches(obj_type,
                                          _registered_names(registry), n=3,
                                          cutoff=_SUGGESTION_CUTOFF)
        hint = (f'; did you mean {" or ".join(map(repr, close))}?' if close
                else '; is the module that registers it in custom_imports?')
        return (f"unknown type={obj_type!r} in the config: no such class in "
                f'the {registry.scope}::{registry.name} registry{hint}')
    called = _CALLED_CLASS.match(str(message))
    name = called['cls'].split('.')[-1] if called else 'the class'
    return (f'the config does not fit {name}: {message} (check that key '
            'in the config and in --cfg-options)')


def _where(err: BaseException) -> str:
    """'package/module.py:line' where ``err`` was raised."""
    tb = _innermost(err)
    if tb is None:
        return '?'
    path = tb.tb_frame.f_code.co_filename.split(os.sep)
    return f'{"/".join(path[-_WHERE_PARTS:])}:{tb.tb_lineno}'


def _hint(err: BaseException) -> str:
    return ''.join(hint for cls, hint in HINTS if isinstance(err, cls))


def user_error_message(err: BaseException) -> Optional[str]:
    """The ``error:`` line (without ``error:``) for an exception that means
    bad input or unfinished work, or None for anything else (a bug: the
    caller shows the traceback).

    Counted: config errors of mmengine's build (``explain_build_error``);
    ``ConfigError``, ``CheckpointMismatchError`` (and its subclasses),
    ``IncompleteDatasetError``, ``NonFiniteLossError``, a missing optional
    library (``ImportError``), as they stand; file-system errors (a missing
    file, no permission, a full disk) and ``OSError`` s raised with a message
    only (no ``errno``, e.g. an unreadable image); any other ``ValueError``
    (this code base's and its libraries' way to refuse a bad value, e.g. a
    model's input size check), with where it was raised.

    Args:
        err (BaseException): the exception.

    Returns:
        str | None: the message.
    """
    explained = explain_build_error(err)
    if explained is not None:
        return explained
    if isinstance(err, _USER_ERRORS + PARTIAL_ERRORS):
        return f'{err}{_hint(err)}'
    if isinstance(err, OSError):
        if err.errno is None:
            return str(err)
        if err.errno in _USER_ERRNOS or isinstance(err, _USER_OS_ERRORS):
            if err.filename is not None and err.strerror:
                return f'{err.strerror}: {err.filename!r}'
            return str(err)
        return None
    if isinstance(err, ValueError):
        return f'{err}{_hint(err)} (raised at {_where(err)})'
    return None


def _show_warning(message, category, filename, lineno, file=None,
                  line=None, _default=warnings.showwarning) -> None:
    """``warnings.showwarning`` that prints the shown categories as one
    ``warning:`` line and passes the others on."""
    if issubclass(category, SHOWN_WARNINGS):
        print(f'warning: {message}', file=sys.stderr, flush=True)
    else:
        _default(message, category, filename, lineno, file, line)


def run_tool(main: Callable[[], Optional[int]]) -> int:
    """Run a tool's ``main`` with the shared warnings, errors and statuses.

    Args:
        main (callable): the tool's work; returns its exit status, or None
            for ``EXIT_OK``.

    Returns:
        int: ``main``'s status; ``EXIT_PARTIAL`` after a NaN/Inf loss or
        skipped images (``PARTIAL_ERRORS``); ``EXIT_BAD_INPUT`` after bad
        input (see ``user_error_message``). Other exceptions propagate with
        their traceback.
    """
    with warnings.catch_warnings():
        for category in SHOWN_WARNINGS:
            warnings.simplefilter('always', category)
        warnings.showwarning = _show_warning
        try:
            status: Any = main()
        except Exception as err:
            message = user_error_message(err)
            if message is None:
                raise
            print(f'error: {message}', file=sys.stderr, flush=True)
            return (EXIT_PARTIAL if isinstance(err, PARTIAL_ERRORS) else
                    EXIT_BAD_INPUT)
    return EXIT_OK if status is None else status
