"""``glean_plugin.cli.run_tool``: the one table of exit statuses and error
lines of every tool (each tool end to end: test_robustness/test_bad_input)."""
import errno
import warnings

import pytest

from glean_plugin.apis import InputSizeError, InputSkippedWarning
from glean_plugin.checkpoint import CheckpointMismatchError
from glean_plugin.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_PARTIAL, run_tool
from glean_plugin.converters import ConversionWarning
from glean_plugin.datasets.prepare import IncompleteDatasetError
from glean_plugin.engine import NonFiniteLossError
from glean_plugin.engine.config import ConfigError


class RefusedFileError(CheckpointMismatchError):
    """A subclass, as a module may add for its own refusals."""


def _raise(err: BaseException):
    def main():
        raise err
    return main


def _error_lines(err: str) -> list:
    return [line for line in err.splitlines() if line.startswith('error: ')]


def test_statuses_are_the_documented_ones():
    assert (EXIT_OK, EXIT_PARTIAL, EXIT_BAD_INPUT) == (0, 1, 2)


@pytest.mark.parametrize('returned,status', [(None, 0), (0, 0), (1, 1),
                                             (2, 2)])
def test_main_status_is_passed_on(returned, status, capsys):
    assert run_tool(lambda: returned) == status
    assert capsys.readouterr().err == ''


# (exception, exit status, the whole error line)
ERRORS = [
    (NonFiniteLossError(4, {'loss_pix': float('nan')}, None), EXIT_PARTIAL,
     'error: loss_pix became NaN or Inf at iteration 4'),
    (IncompleteDatasetError('2 of 5 images could not be prepared', {}, 3),
     EXIT_PARTIAL, 'error: 2 of 5 images could not be prepared'),
    (ConfigError("cannot read config 'x.py'"), EXIT_BAD_INPUT,
     "error: cannot read config 'x.py'"),
    (CheckpointMismatchError('missing 3 keys'), EXIT_BAD_INPUT,
     'error: missing 3 keys'),
    (RefusedFileError("refused global 'os.system'"), EXIT_BAD_INPUT,
     "error: refused global 'os.system'"),
    (FileNotFoundError(errno.ENOENT, 'No such file or directory', 'a.png'),
     EXIT_BAD_INPUT, "error: No such file or directory: 'a.png'"),
    (PermissionError(errno.EACCES, 'Permission denied', 'out'),
     EXIT_BAD_INPUT, "error: Permission denied: 'out'"),
    (OSError('cannot identify image file'), EXIT_BAD_INPUT,
     'error: cannot identify image file'),
    (ImportError('reading LSUN needs lmdb: pip install lmdb'),
     EXIT_BAD_INPUT, 'error: reading LSUN needs lmdb: pip install lmdb'),
]


@pytest.mark.parametrize('exc,status,line', ERRORS,
                         ids=[type(e[0]).__name__ for e in ERRORS])
def test_error_table(exc, status, line, capsys):
    assert run_tool(_raise(exc)) == status
    err = capsys.readouterr().err
    assert len(_error_lines(err)) == 1 and err.startswith(line), err


def test_value_error_says_where(capsys):
    assert run_tool(_raise(ValueError('size 3, expected 8'))) == \
        EXIT_BAD_INPUT
    (line, ) = _error_lines(capsys.readouterr().err)
    assert line.startswith('error: size 3, expected 8 (raised at ')
    assert 'test_cli.py:' in line


def test_input_size_error_gets_the_resize_hint(capsys):
    assert run_tool(_raise(InputSizeError('takes 8x8'))) == EXIT_BAD_INPUT
    (line, ) = _error_lines(capsys.readouterr().err)
    assert line.startswith('error: takes 8x8 (pass --resize to resize')


@pytest.mark.parametrize('exc', [RuntimeError('bug'), KeyError('bug'),
                                 TypeError('bug'),
                                 OSError(errno.EIO, 'I/O error')])
def test_bugs_keep_their_traceback(exc, capsys):
    """Not bad input (a KeyError/TypeError not raised by mmengine's build,
    an I/O error of the disk): propagated, nothing printed."""
    with pytest.raises(type(exc)):
        run_tool(_raise(exc))
    assert capsys.readouterr().err == ''


def test_config_build_error_is_explained(capsys):
    from mmengine.registry import MODELS
    assert run_tool(lambda: MODELS.build(dict(type='GLEANNett'))) == \
        EXIT_BAD_INPUT
    (line, ) = _error_lines(capsys.readouterr().err)
    assert "unknown type='GLEANNett'" in line


def test_input_warnings_are_one_line_each_time(capsys):
    def main():
        for _ in range(2):
            warnings.warn('skipped b.txt: not an image', InputSkippedWarning)
        warnings.warn('no discriminator', ConversionWarning)

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # as PYTHONWARNINGS=ignore
        assert run_tool(main) == EXIT_OK
    assert capsys.readouterr().err.splitlines() == [
        'warning: skipped b.txt: not an image',
        'warning: skipped b.txt: not an image', 'warning: no discriminator']


class _Built:
    """A class for the test registry: one argument, and a bug inside."""

    def __init__(self, size: int = 1, fail: bool = False) -> None:
        if fail:
            raise TypeError('a bug inside __init__')
        self.size = size


@pytest.fixture
def test_registry():
    """A child of mmengine's MODELS in its own scope (as a plugin's)."""
    from mmengine.registry import MODELS, Registry
    registry = Registry('model', parent=MODELS, scope='glean_cli_test')
    registry.register_module(module=_Built, name='BuiltThing')
    yield registry
    MODELS.children.pop('glean_cli_test', None)


def _build_error(registry, cfg) -> BaseException:
    """The error of building ``cfg`` in the registry's scope (whatever
    default scope an earlier test left)."""
    with pytest.raises((KeyError, TypeError)) as info:
        registry.build(dict(cfg, _scope_=registry.scope))
    return info.value


def test_mmengine_still_raises_where_explain_build_error_looks(test_registry):
    """The one inspection of mmengine (``raised_by_build``) and the message
    format read from it: fails loudly if mmengine moves the raise or
    rewords the message."""
    from glean_plugin.cli import _UNKNOWN_TYPE, raised_by_build
    unknown = _build_error(test_registry, dict(type='BuiltThng'))
    assert raised_by_build(unknown)
    match = _UNKNOWN_TYPE.match(unknown.args[0])
    assert match is not None, unknown.args[0]
    assert (match['type'], match['scope'], match['name']) == \
        ('BuiltThng', 'glean_cli_test', 'model')
    assert raised_by_build(_build_error(test_registry,
                                        dict(type='BuiltThing', sise=2)))
    assert not raised_by_build(_build_error(
        test_registry, dict(type='BuiltThing', fail=True)))


def test_explained_build_errors(test_registry):
    from glean_plugin.cli import explain_build_error
    unknown = explain_build_error(_build_error(test_registry,
                                               dict(type='BuiltThng')))
    assert unknown == ("unknown type='BuiltThng' in the config: no such class"
                       " in the glean_cli_test::model registry; did you mean"
                       " 'BuiltThing'?")
    args = explain_build_error(_build_error(
        test_registry, dict(type='BuiltThing', sise=2)))
    assert args.startswith('the config does not fit _Built: ')
    assert "unexpected keyword argument 'sise'" in args
    assert explain_build_error(_build_error(
        test_registry, dict(type='BuiltThing', fail=True))) is None


def test_slow_dtype_warning_is_one_line(capsys):
    from glean_plugin.hardware import SlowDtypeWarning

    def main():
        warnings.warn('--amp: this CPU (X) has no bfloat16 instructions',
                      SlowDtypeWarning)

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # as PYTHONWARNINGS=ignore
        assert run_tool(main) == EXIT_OK
    assert capsys.readouterr().err.splitlines() == [
        'warning: --amp: this CPU (X) has no bfloat16 instructions']
