"""glean_plugin.compat: MMagic imports on mmcv without compiled ops."""
import importlib
import importlib.machinery
import importlib.util
import sys

import pytest

import glean_plugin
from glean_plugin import compat
from glean_plugin.compat import (MissingCompiledOpError,
                                 install_mmcv_ext_placeholder,
                                 mmcv_has_compiled_ops)
from tests.support.helpers import run_python

EXT = 'mmcv._ext'


def test_mmagic_packages_import():
    for name in ('mmagic.models', 'mmagic.datasets', 'mmagic.evaluation',
                 'mmagic.engine', 'mmagic.visualization'):
        module = importlib.import_module(name)
        assert module.__name__ == name


def test_placeholder_is_registered():
    ext = sys.modules[EXT]
    assert isinstance(ext, compat._PlaceholderExt)
    assert ext.is_placeholder is True
    assert importlib.import_module(EXT) is ext
    assert ext.__spec__ is not None and ext.__spec__.name == EXT
    assert mmcv_has_compiled_ops() is False


def test_calling_any_op_raises_naming_the_op():
    ext = importlib.import_module(EXT)
    op = ext.some_op
    assert callable(op) and op.__name__ == 'some_op'
    with pytest.raises(MissingCompiledOpError) as info:
        op(1, 2, key=3)
    msg = str(info.value)
    assert "mmcv op 'some_op'" in msg
    assert 'needs compiled mmcv' in msg
    assert issubclass(MissingCompiledOpError, RuntimeError)


def test_dunder_attributes_are_not_ops():
    ext = importlib.import_module(EXT)
    with pytest.raises(AttributeError):
        ext.__wrapped__  # noqa: B018
    assert not hasattr(ext, '__path__')


def test_real_mmcv_op_fails_only_when_called():
    """mmcv.ops imports fine; a compiled-only op raises when used."""
    import torch
    from mmcv.ops import nms
    with pytest.raises(MissingCompiledOpError, match="mmcv op 'nms'"):
        nms(torch.rand(3, 4), torch.rand(3), 0.5)


def test_mmengine_mmcv_full_available():
    from mmengine.utils.dl_utils import mmcv_full_available
    assert mmcv_full_available() is False


def test_install_is_idempotent():
    ext = sys.modules[EXT]
    assert install_mmcv_ext_placeholder() is True
    assert install_mmcv_ext_placeholder() is True
    assert sys.modules[EXT] is ext


def _fake_find_spec(real):
    def find_spec(name, package=None):
        if name == EXT:
            return importlib.machinery.ModuleSpec(name, loader=None)
        return real(name, package)
    return find_spec


def test_nothing_changed_when_compiled_ops_exist(monkeypatch):
    """In-process: without the placeholder and with a findable real
    mmcv._ext, install does nothing and reports False."""
    monkeypatch.delitem(sys.modules, EXT)
    monkeypatch.setattr(importlib.util, 'find_spec',
                        _fake_find_spec(importlib.util.find_spec))
    assert mmcv_has_compiled_ops() is True
    assert install_mmcv_ext_placeholder() is False
    assert EXT not in sys.modules


def test_installs_when_no_compiled_ops(monkeypatch):
    monkeypatch.delitem(sys.modules, EXT)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, package=None: None
                        if name == EXT else real(name, package))
    assert mmcv_has_compiled_ops() is False
    assert install_mmcv_ext_placeholder() is True
    assert getattr(sys.modules[EXT], 'is_placeholder', False)


def test_mmcv_not_installed_means_no_compiled_ops(monkeypatch):
    monkeypatch.delitem(sys.modules, EXT)

    def raising(name, package=None):
        raise ModuleNotFoundError(f"No module named '{name.split('.')[0]}'")

    monkeypatch.setattr(importlib.util, 'find_spec', raising)
    assert mmcv_has_compiled_ops() is False


@pytest.mark.slow
def test_fresh_interpreter_with_compiled_ops_is_untouched():
    """A fresh interpreter where a real mmcv._ext is findable: importing
    glean_plugin registers no placeholder."""
    proc = run_python('''
        import importlib.machinery, importlib.util, sys
        real = importlib.util.find_spec
        def find_spec(name, package=None):
            if name == 'mmcv._ext':
                return importlib.machinery.ModuleSpec(name, loader=None)
            return real(name, package)
        importlib.util.find_spec = find_spec
        import glean_plugin
        from glean_plugin.compat import install_mmcv_ext_placeholder
        assert 'mmcv._ext' not in sys.modules, sys.modules.get('mmcv._ext')
        assert install_mmcv_ext_placeholder() is False
        assert 'mmcv._ext' not in sys.modules
        print('UNTOUCHED')
    ''')
    assert 'UNTOUCHED' in proc.stdout


def test_package_exports():
    assert glean_plugin.__version__ == '0.1.0'
    for name in ('GLEANNet', 'StyleGAN2LatentBank', '__version__'):
        assert name in glean_plugin.__all__
        assert hasattr(glean_plugin, name)
