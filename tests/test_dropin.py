"""glean_plugin.dropin: MMagic's GLEAN name builds the plugin's class.

The drop-in re-registers a name in MMagic's global registry, so it is only
ever imported in subprocesses; the main test process stays clean.
"""
import sys

import mmagic.models  # noqa: F401  (after glean_plugin: needs the mmcv shim)
import torch
from mmagic.models.editors.glean.glean_styleganv2 import GLEANStyleGANv2
from mmagic.registry import MODELS

from glean_plugin import GLEANNet
from helpers import run_python, shapes

SMALL = dict(in_size=8, out_size=32, style_channels=16, num_rrdbs=1,
             rrdb_channels=8)


def test_side_by_side_without_dropin():
    assert 'glean_plugin.dropin' not in sys.modules
    assert MODELS.get('GLEANNet') is GLEANNet
    assert MODELS.get('GLEANStyleGANv2') is GLEANStyleGANv2
    ours = MODELS.build(dict(type='GLEANNet', **SMALL))
    theirs = MODELS.build(dict(type='GLEANStyleGANv2', **SMALL))
    assert type(ours) is GLEANNet
    assert type(theirs) is GLEANStyleGANv2
    assert shapes(ours.state_dict()) == shapes(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        a, b = ours.eval()(x), theirs.eval()(x)
    assert (a - b).norm() <= 1e-4 * b.norm()


def test_dropin_builds_plugin_class():
    proc = run_python(f'''
        import glean_plugin.dropin
        from glean_plugin import GLEANNet
        from glean_plugin.dropin import DROPIN_NAMES
        from mmagic.registry import MODELS
        from mmagic.models.editors.glean.glean_styleganv2 import \\
            GLEANStyleGANv2 as MMagicGLEAN

        assert DROPIN_NAMES['GLEANStyleGANv2'] is GLEANNet
        model = MODELS.build(dict(type='GLEANStyleGANv2', **{SMALL!r}))
        assert type(model) is GLEANNet, type(model)
        assert (model.in_size, model.out_size) == (8, 32)
        # MMagic's own class is untouched and still importable
        assert MMagicGLEAN.__module__ == \\
            'mmagic.models.editors.glean.glean_styleganv2', MMagicGLEAN
        assert MMagicGLEAN is not GLEANNet
        assert MODELS.get('GLEANNet') is GLEANNet
        # same layout: MMagic's weights load strictly into the drop-in
        ref = MMagicGLEAN(**{SMALL!r})
        model.load_state_dict(ref.state_dict(), strict=True)
        print('DROPIN_OK')
    ''')
    assert 'DROPIN_OK' in proc.stdout


def test_dropin_through_config_custom_imports(tmp_path):
    cfg_file = tmp_path / 'glean_cfg.py'
    cfg_file.write_text(
        "custom_imports = dict(imports=['glean_plugin.dropin'], "
        'allow_failed_imports=False)\n'
        f"model = dict(type='GLEANStyleGANv2', **{SMALL!r})\n")
    proc = run_python(f'''
        import sys
        from mmengine.config import Config
        assert 'glean_plugin' not in sys.modules
        cfg = Config.fromfile({str(cfg_file)!r})
        assert 'glean_plugin.dropin' in sys.modules
        import torch
        from mmagic.registry import MODELS
        from glean_plugin import GLEANNet
        model = MODELS.build(cfg.model)
        assert type(model) is GLEANNet, type(model)
        out = model(torch.rand(2, 3, 8, 8))
        assert out.shape == (2, 3, 32, 32), out.shape
        print('CONFIG_OK')
    ''')
    assert 'CONFIG_OK' in proc.stdout
