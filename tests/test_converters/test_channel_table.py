"""Fitting (channel_multiplier, max_channels) to a checkpoint's channels."""
import pytest

from glean_plugin.checkpoint import CheckpointMismatchError
from glean_plugin.converters import fit_channel_table
from glean_plugin.models import stylegan2_channels


@pytest.mark.parametrize('size,multiplier', [(1024, 2), (256, 1), (512, 2),
                                             (256, 4)])
def test_published_tables_fit_without_cap(size, multiplier):
    table = stylegan2_channels(size, multiplier)
    assert fit_channel_table(table, 'G') == (multiplier, None)


def test_nvidia_channel_max_cap_becomes_max_channels():
    # channel_base=65536, channel_max=512: 512 everywhere up to 128
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 512, 256: 256}
    assert fit_channel_table(table, 'G') == (4, 512)


def test_ambiguous_tables_prefer_given_then_2():
    table = stylegan2_channels(32, 1, 16)  # 16 everywhere: any multiplier
    assert fit_channel_table(table, 'G') == (2, 16)
    assert fit_channel_table(table, 'G', prefer=[(3, 16)]) == (3, 16)
    assert fit_channel_table(table, 'G', channel_multiplier=1) == (1, 16)
    # at <= 32 pixels the MMagic table is 512 for every multiplier
    assert fit_channel_table(stylegan2_channels(32), 'G') == (2, None)


def test_tables_that_are_not_stylegan2s():
    with pytest.raises(CheckpointMismatchError,
                       match=r'G has channels \{4: 512, 8: 300\}.*not the '
                       'StyleGAN2 table'):
        fit_channel_table({4: 512, 8: 300}, 'G')


def test_given_options_that_do_not_fit_name_one_that_does():
    table = stylegan2_channels(256, 1)
    with pytest.raises(ValueError,
                       match=r'channel_multiplier=2, max_channels=None gives '
                       r'channels \{.*256: 128\}, but G has \{.*256: 64\}; '
                       'channel_multiplier=1, max_channels=None fits'):
        fit_channel_table(table, 'G', channel_multiplier=2)
    assert fit_channel_table(table, 'G', channel_multiplier=1,
                             max_channels=512) == (1, 512)
