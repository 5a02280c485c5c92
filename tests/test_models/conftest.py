"""The parity tests build MMagic's reference modules by their registry names
(and MMagic's GLEANStyleGANv2 builds its generator by name): where an earlier
in-process tool run imported glean_plugin.dropin, MMagic's names are given
back to MMagic for each module here (its module-scoped fixtures build
MMagic's references too), so that no parity test compares the plugin with
itself."""
import pytest

from glean_plugin.registry import MODELS, mmagic_builds

MMAGIC_NAMES = ('GLEANStyleGANv2', 'StyleGANv2Generator', 'StyleGAN2Generator',
                'StyleGANv2Discriminator', 'StyleGAN2Discriminator')


@pytest.fixture(scope='module', autouse=True)
def _mmagic_names_are_mmagics():
    with mmagic_builds():
        for name in MMAGIC_NAMES:
            assert MODELS.get(name).__module__.startswith('mmagic.'), name
        yield
