"""glean_plugin.dropin: MMagic's GLEAN name builds the plugin's class.

The drop-in re-registers a name in MMagic's global registry, so it is only
ever imported in subprocesses; the main test process stays clean.
"""
import sys

import mmagic.models  # noqa: F401  (after glean_plugin: needs the mmcv shim)
import pytest
import torch
from mmagic.models.editors.glean.glean_styleganv2 import GLEANStyleGANv2
from mmagic.models.editors.stylegan2 import \
    StyleGAN2Generator as MMagicStyleGAN2Generator
from mmagic.registry import MODELS

from glean_plugin import GLEANNet, StyleGAN2Generator
from tests.support.helpers import run_python, shapes

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
    # the StyleGAN2 generator: MMagic's names are MMagic's, ours is apart
    for name in ('StyleGAN2Generator', 'StyleGANv2Generator'):
        assert MODELS.get(name) is MMagicStyleGAN2Generator
    assert MODELS.get('GLEANStyleGAN2Generator') is StyleGAN2Generator


@pytest.mark.slow
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


@pytest.mark.slow
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


GEN = dict(out_size=16, style_channels=8, num_mlps=2)


@pytest.mark.slow
def test_dropin_builds_plugin_stylegan2_generator():
    proc = run_python(f'''
        import glean_plugin.dropin
        import torch
        from glean_plugin import StyleGAN2Generator
        from glean_plugin.dropin import DROPIN_NAMES, MMAGIC_CLASSES
        from mmagic.registry import MODELS

        MMagicGenerator = MMAGIC_CLASSES['StyleGAN2Generator']

        assert MMagicGenerator.__module__ == (
            'mmagic.models.editors.stylegan2.stylegan2_generator')
        assert MMagicGenerator is not StyleGAN2Generator
        ref = MMagicGenerator(**{GEN!r})
        for name in ('StyleGAN2Generator', 'StyleGANv2Generator'):
            assert DROPIN_NAMES[name] is StyleGAN2Generator
            gen = MODELS.build(dict(type=name, **{GEN!r}))
            assert type(gen) is StyleGAN2Generator, type(gen)
            gen.load_state_dict(ref.state_dict(), strict=True)
            out = gen(None, num_batches=2, return_latents=True)
            assert out['fake_img'].shape == (2, 3, 16, 16)
        print('GENERATOR_OK')
    ''')
    assert 'GENERATOR_OK' in proc.stdout


@pytest.mark.slow
def test_dropin_stylegan2_model_config(tmp_path):
    """MMagic's StyleGAN2 model from its base config, with the drop-in:
    generator, its EMA copy and the discriminator are the plugin's."""
    cfg_file = tmp_path / 'stylegan2_cfg.py'
    cfg_file.write_text(
        "_base_ = 'mmagic::_base_/models/base_styleganv2.py'\n"
        "custom_imports = dict(imports=['glean_plugin.dropin'], "
        'allow_failed_imports=False)\n'
        f'model = dict(generator=dict(max_channels=8, **{GEN!r}),\n'
        '             discriminator=dict(in_size=16, max_channels=8))\n')
    proc = run_python(f'''
        from mmengine.config import Config
        cfg = Config.fromfile({str(cfg_file)!r})
        import torch
        from mmagic.registry import MODELS
        from glean_plugin import GLEANDiscriminator, StyleGAN2Generator
        model = MODELS.build(cfg.model)
        assert type(model.generator) is StyleGAN2Generator
        assert type(model.generator_ema.module) is StyleGAN2Generator
        assert type(model.discriminator) is GLEANDiscriminator
        assert model.noise_size == 8
        assert model.generator.channels == {{4: 8, 8: 8, 16: 8}}
        with torch.no_grad():
            samples = model(dict(num_batches=2))
        assert samples[0].fake_img.shape == (3, 16, 16)
        print('MODEL_OK')
    ''')
    assert 'MODEL_OK' in proc.stdout


# MMagic's public names for the classes the drop-in replaces (the packages
# that export them), as the issue lists them.
PUBLIC_NAMES = (
    ('mmagic.models', 'GLEANStyleGANv2', 'GLEANNet'),
    ('mmagic.models.editors', 'GLEANStyleGANv2', 'GLEANNet'),
    ('mmagic.models.editors.glean', 'GLEANStyleGANv2', 'GLEANNet'),
    ('mmagic.models.editors.stylegan2', 'StyleGAN2Generator',
     'StyleGAN2Generator'),
    ('mmagic.models.editors.stylegan2', 'StyleGAN2Discriminator',
     'GLEANDiscriminator'),
)


def test_dropin_rebinds_mmagic_public_names():
    """After the import, MMagic's exports name the plugin's classes, so
    isinstance holds; no package under mmagic.models still exports one of
    MMagic's originals; the originals stay in MMAGIC_CLASSES (read-only)
    and in their defining modules, and still work."""
    proc = run_python(f'''
        import importlib, sys
        import torch
        import glean_plugin
        import glean_plugin.dropin as dropin
        from mmagic.registry import MODELS

        originals = dict(dropin.MMAGIC_CLASSES)
        assert set(originals) == set(dropin.DROPIN_NAMES)
        for name, cls in originals.items():
            assert cls.__module__.startswith('mmagic.models.editors.'), cls
            assert cls is not dropin.DROPIN_NAMES[name]
            assert MODELS.get(name) is dropin.DROPIN_NAMES[name]
        try:
            dropin.MMAGIC_CLASSES['GLEANStyleGANv2'] = None
        except TypeError:
            pass
        else:
            raise AssertionError('MMAGIC_CLASSES is writable')

        for module, attr, plugin_name in {PUBLIC_NAMES!r}:
            public = getattr(importlib.import_module(module), attr)
            assert public is getattr(glean_plugin, plugin_name), (
                module, attr, public)
            assert (module, attr) in dropin.REBOUND, (module, attr)
        ids = set(map(id, originals.values()))
        left = [(m, a) for m, mod in list(sys.modules.items())
                if m.startswith('mmagic.models') and hasattr(mod, '__path__')
                for a, v in vars(mod).items() if id(v) in ids]
        assert not left, left

        # isinstance through MMagic's public names
        from mmagic.models import GLEANStyleGANv2
        from mmagic.models.editors.stylegan2 import (
            StyleGAN2Discriminator, StyleGAN2Generator)
        glean = MODELS.build(dict(type='GLEANStyleGANv2', **{SMALL!r}))
        gen = MODELS.build(dict(type='StyleGANv2Generator', **{GEN!r}))
        disc = MODELS.build(dict(type='StyleGANv2Discriminator', in_size=16,
                                 max_channels=8))
        assert isinstance(glean, GLEANStyleGANv2)
        assert isinstance(gen, StyleGAN2Generator)
        assert isinstance(disc, StyleGAN2Discriminator)

        # MMagic's classes: apart, in their defining modules, and working
        # (MMagic's generator calls super(StyleGAN2Generator, self).train)
        from mmagic.models.editors.glean import glean_styleganv2
        from mmagic.models.editors.stylegan2 import stylegan2_generator
        assert glean_styleganv2.GLEANStyleGANv2 is originals['GLEANStyleGANv2']
        theirs = originals['StyleGAN2Generator'](**{GEN!r})
        assert stylegan2_generator.StyleGAN2Generator is type(theirs)
        theirs.eval().train()
        assert not isinstance(theirs, StyleGAN2Generator)
        gen.load_state_dict(theirs.state_dict(), strict=True)
        # MMagic's GLEAN builds its generator by name: inside mmagic_builds
        # the names are MMagic's again, and its GLEAN runs
        from glean_plugin.registry import mmagic_builds
        with mmagic_builds():
            ref = originals['GLEANStyleGANv2'](**{SMALL!r})
            assert MODELS.get('StyleGANv2Generator') is \
                originals['StyleGANv2Generator']
        assert type(ref.generator) is originals['StyleGANv2Generator']
        for name, cls in dropin.DROPIN_NAMES.items():
            assert MODELS.get(name) is cls, name
        assert not isinstance(ref, GLEANStyleGANv2)
        glean.load_state_dict(ref.state_dict(), strict=True)
        x = torch.rand(1, 3, {SMALL['in_size']}, {SMALL['in_size']})
        assert ref(x).shape == glean(x).shape
        print('REBIND_OK')
    ''')
    assert 'REBIND_OK' in proc.stdout


def test_without_dropin_mmagic_names_are_mmagics():
    """The main test process never imports the drop-in: MMagic's public
    names are MMagic's own classes here."""
    from mmagic.models.editors import stylegan2
    assert 'glean_plugin.dropin' not in sys.modules
    assert mmagic.models.GLEANStyleGANv2 is GLEANStyleGANv2
    assert stylegan2.StyleGAN2Generator is MMagicStyleGAN2Generator
    assert stylegan2.StyleGAN2Discriminator.__module__ == (
        'mmagic.models.editors.stylegan2.stylegan2_discriminator')


def test_suite_takes_an_in_process_dropin_back():
    """The suite's guard (``tests.support.tool_runs.dropin_undone``, autouse
    for every test): an in-process import of the drop-in is taken back, so
    no test depends on which tests ran before it in the same process."""
    import mmagic.models as mmagic_models
    from mmagic.registry import OPTIMIZERS

    from tests.support.tool_runs import dropin_undone
    before = (MODELS.get('GLEANStyleGANv2'), mmagic_models.GLEANStyleGANv2,
              OPTIMIZERS.get('Adam'))
    with dropin_undone():
        import glean_plugin.dropin  # noqa: F401
        assert MODELS.get('GLEANStyleGANv2') is GLEANNet
        assert mmagic_models.GLEANStyleGANv2 is GLEANNet
        assert OPTIMIZERS.get('Adam') is not before[2]
    assert 'glean_plugin.dropin' not in sys.modules
    assert (MODELS.get('GLEANStyleGANv2'), mmagic_models.GLEANStyleGANv2,
            OPTIMIZERS.get('Adam')) == before
    assert before[0] is GLEANStyleGANv2
