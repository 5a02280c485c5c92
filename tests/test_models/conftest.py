"""The parity tests build MMagic's reference modules by their registry names
(and MMagic's GLEANStyleGANv2 builds its generator by name), some in
module-scoped fixtures: check that those names build MMagic's classes, so
that no parity test compares the plugin with itself. (A test that imports
glean_plugin.dropin in the test process has it taken back when it ends:
``tests.support.tool_runs.dropin_undone``, autouse for the suite.)"""
import pytest

from glean_plugin.registry import MODELS

MMAGIC_NAMES = ('GLEANStyleGANv2', 'StyleGANv2Generator', 'StyleGAN2Generator',
                'StyleGANv2Discriminator', 'StyleGAN2Discriminator')


@pytest.fixture(scope='module', autouse=True)
def _mmagic_names_are_mmagics():
    for name in MMAGIC_NAMES:
        assert MODELS.get(name).__module__.startswith('mmagic.'), (
            f'{name} builds {MODELS.get(name)}: the drop-in was left '
            'imported by an earlier test')
