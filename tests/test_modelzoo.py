"""The model zoo: configs/metafile.yml against the configs and MMagic's
metafile, and README's section against its rendering."""
import copy
import os.path as osp
import shutil

import pytest

from glean_plugin.modelzoo import (README_BEGIN, README_END, ModelZooError,
                                   check_metafile, config_facts, config_files,
                                   load_metafile, readme_section,
                                   render_section, replace_readme_section,
                                   write_readme)
from tests.support.helpers import REPO_ROOT
from tests.support.tool_runs import run_tool_in_process

METAFILE = osp.join(REPO_ROOT, 'configs', 'metafile.yml')
README = osp.join(REPO_ROOT, 'README.md')
# A few configs of each kind, for the error paths (fast: three configs).
SMALL_SET = ('configs/glean_cat_8x.py', 'configs/glean_demo.py',
             'configs/stylegan2_demo.py')


@pytest.fixture(scope='module')
def meta():
    return load_metafile(METAFILE)


def test_every_config_has_one_entry(meta):
    listed = [m['Config'] for m in meta['Models']]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(config_files(REPO_ROOT))
    assert 'configs/ablations/glean_x8-no-decoder_8xb2_cat.py' in listed
    assert not any('_base_' in c for c in listed)


def test_metafile_matches_the_configs(meta):
    check_metafile(meta, REPO_ROOT)


def test_readme_section_is_the_rendering(meta):
    with open(README, encoding='utf-8') as f:
        section = readme_section(f.read())
    assert section == render_section(meta), (
        'README.md model-zoo section differs from configs/metafile.yml: run '
        'python tools/modelzoo.py --write-readme')


def test_published_numbers_are_mmagics(meta):
    by_name = {m['Name']: m for m in meta['Models']}
    cat = by_name['glean_cat_8x']
    assert cat['Metadata']['MMagic Config'] == \
        'configs/glean/glean_x8_2xb8_cat.py'
    assert cat['Results'][0]['Metrics'] == {'PSNR': 23.98}
    assert cat['Weights'].endswith('glean_cat_8x_20210614-d3ac8683.pth')
    for name in ('glean_demo', 'glean_x8-no-decoder_8xb2_cat',
                 'stylegan2_demo', 'glean_cat_8x-fp16'):
        assert by_name[name]['Weights'] is None
        assert by_name[name]['Metadata']['Weights Note']


# --------------------------------------------------------------------------- #
# error paths, on a small copy of the repository
# --------------------------------------------------------------------------- #
@pytest.fixture
def small_root(tmp_path, meta):
    """(root, metafile) with three configs and their entries."""
    root = tmp_path / 'repo'
    shutil.copytree(osp.join(REPO_ROOT, 'configs', '_base_'),
                    root / 'configs' / '_base_')
    for config in SMALL_SET:
        shutil.copy(osp.join(REPO_ROOT, config), root / config)
    small = copy.deepcopy(meta)
    small['Models'] = [m for m in small['Models'] if m['Config'] in SMALL_SET]
    assert len(small['Models']) == len(SMALL_SET)
    return str(root), small


def _entry(meta, name):
    return next(m for m in meta['Models'] if m['Name'] == name)


def _problems(meta, root):
    with pytest.raises(ModelZooError) as info:
        check_metafile(meta, root)
    return str(info.value)


def test_small_copy_passes(small_root):
    root, meta = small_root
    check_metafile(meta, root)


def test_missing_and_unknown_entries(small_root):
    root, meta = small_root
    meta['Models'] = [m for m in meta['Models'] if m['Name'] != 'glean_demo']
    extra = copy.deepcopy(_entry(meta, 'glean_cat_8x'))
    extra['Config'] = 'configs/glean_dog_8x.py'
    meta['Models'].append(extra)
    message = _problems(meta, root)
    assert 'configs/glean_demo.py: no entry in the metafile' in message
    assert 'configs/glean_dog_8x.py: in the metafile but no such config' \
        in message


def test_metric_names_must_be_reported(small_root):
    root, meta = small_root
    _entry(meta, 'glean_cat_8x')['Results'][0]['Metrics'] = {'PSNR-Y': 24.}
    message = _problems(meta, root)
    assert "['PSNR-Y']" in message and "'MAE', 'PSNR', 'SSIM'" in message


@pytest.mark.parametrize('key, value, expected', [
    ('crop_border', 4, 'Metric Settings'),
    ('convert_to', 'Y', 'Metric Settings'),
])
def test_metric_settings_must_be_the_configs(small_root, key, value,
                                              expected):
    root, meta = small_root
    psnr = _entry(meta, 'glean_cat_8x')['Metadata']['Metric Settings'][1]
    assert psnr['type'] == 'PSNR'
    psnr[key] = value
    assert expected in _problems(meta, root)


def test_prefixed_metrics_are_reported_with_their_prefix(small_root):
    root, meta = small_root
    config = osp.join(root, 'configs', 'glean_cat_8x.py')
    with open(config, 'a') as f:
        f.write("\nval_evaluator = [dict(type='PSNR', crop_border=4, "
                "convert_to='Y', prefix='Cat100')]\n")
    facts = config_facts(config)
    assert facts['reported'] == ['Cat100/PSNR']
    assert facts['metric_settings'] == [{
        'type': 'PSNR', 'crop_border': 4, 'input_order': 'CHW',
        'convert_to': 'Y', 'prefix': 'Cat100'}]
    entry = _entry(meta, 'glean_cat_8x')
    entry['Metadata']['Metric Settings'] = facts['metric_settings']
    message = _problems(meta, root)  # MMagic's result is named 'PSNR'
    assert "['PSNR'] that the config's val_evaluator does not report" \
        in message
    assert 'Cat100/PSNR' in message
    # the rendering says what is computed
    assert 'PSNR (Y, crop 4, prefix Cat100)' in render_section(meta)


def test_scale_and_bank_must_be_the_configs(small_root):
    root, meta = small_root
    entry = _entry(meta, 'glean_cat_8x')
    entry['Metadata']['Scale'] = 16
    entry['Metadata']['Latent Bank'] = None
    message = _problems(meta, root)
    assert "Scale is 16, the config's generator upsamples 8x" in message
    assert 'Latent Bank is None, the config loads' in message


@pytest.mark.parametrize('url, expected', [
    ('http://download.openmmlab.com/x/glean_cat_8x_20210614-d3ac8683.pth',
     'not a well-formed URL'),
    ('https:///glean_cat_8x_20210614-d3ac8683.pth', 'not a well-formed URL'),
    ('https://download.openmmlab.com/x/glean_cat_8x_20210614-d3ac8683.zip',
     'not a well-formed URL'),
    ('https://download.openmmlab.com/x/glean_cat_8x.pth', 'no sha256 suffix'),
    ('https://download.openmmlab.com/x/glean_cat_8x_20210614-D3AC8683.pth',
     'no sha256 suffix'),
])
def test_weights_urls_are_well_formed(small_root, url, expected):
    root, meta = small_root
    _entry(meta, 'glean_cat_8x')['Weights'] = url
    message = _problems(meta, root)
    assert expected in message
    assert "are not MMagic's" in message  # and not MMagic's either


def test_null_weights_say_why(small_root):
    root, meta = small_root
    del _entry(meta, 'glean_demo')['Metadata']['Weights Note']
    assert 'Weights is null: Metadata must say why' in _problems(meta, root)


def test_published_numbers_must_be_copied_exactly(small_root):
    root, meta = small_root
    _entry(meta, 'glean_cat_8x')['Results'][0]['Metrics']['PSNR'] = 24.5
    assert "are not MMagic's for configs/glean/glean_x8_2xb8_cat.py" in \
        _problems(meta, root)
    _entry(meta, 'glean_cat_8x')['Results'][0]['Metrics']['PSNR'] = 23.98
    _entry(meta, 'glean_demo')['Weights'] = \
        _entry(meta, 'glean_cat_8x')['Weights']
    assert 'Weights given without an MMagic Config' in _problems(meta, root)


def test_bad_yaml_and_shape(tmp_path):
    bad = tmp_path / 'metafile.yml'
    bad.write_text('Models:\n- Name: x\n  Weights Note: a: b\n')
    with pytest.raises(ModelZooError, match='not valid YAML'):
        load_metafile(str(bad))
    bad.write_text('Models: []\n')
    with pytest.raises(ModelZooError, match='"Collections" and "Models"'):
        load_metafile(str(bad))
    # a hostile metafile: an unsafe YAML loader would run the command
    marker = tmp_path / 'ran'
    bad.write_text('Models: !!python/object/apply:os.system '
                   f'["touch {marker}"]\n')
    with pytest.raises(ModelZooError, match='not valid YAML'):
        load_metafile(str(bad))
    assert not marker.exists()


# --------------------------------------------------------------------------- #
# README section
# --------------------------------------------------------------------------- #
def test_replace_keeps_the_rest(meta):
    text = f'# Title\n\nbefore\n\n{README_BEGIN}\nold table\n{README_END}\n' \
        'after\n'
    new = replace_readme_section(text, 'new table\n')
    assert new == f'# Title\n\nbefore\n\n{README_BEGIN}\nnew table\n' \
        f'{README_END}\nafter\n'
    assert readme_section(new) == 'new table\n'


@pytest.mark.parametrize('text', [
    'no markers\n',
    f'{README_BEGIN}\n',
    f'{README_END}\n{README_BEGIN}\n',
    f'{README_BEGIN}\n{README_END}\n{README_BEGIN}\n{README_END}\n',
])
def test_markers_must_be_there_once(text):
    with pytest.raises(ModelZooError, match='expected one'):
        readme_section(text)


def test_write_readme(tmp_path, meta):
    readme = tmp_path / 'README.md'
    readme.write_text(f'intro\n{README_BEGIN}\nstale\n{README_END}\nend\n')
    assert write_readme(str(readme), meta) is True
    text = readme.read_text()
    assert text.startswith(f'intro\n{README_BEGIN}\n## Model zoo\n')
    assert text.endswith(f'{README_END}\nend\n')
    assert readme_section(text) == render_section(meta)
    assert write_readme(str(readme), meta) is False
    assert [p.name for p in tmp_path.iterdir()] == ['README.md']


def test_tool_check_and_write(small_root, monkeypatch, capsys):
    root, meta = small_root

    def modelzoo(*args):
        return run_tool_in_process('modelzoo', [*args, '--root', root],
                                   monkeypatch, capsys)

    shutil.copy(METAFILE, osp.join(root, 'configs', 'metafile.yml'))
    # the full metafile lists configs this copy lacks
    status, _, err = modelzoo('--check')
    assert status == 2, err
    assert 'error: ' in err and 'no such config' in err

    import yaml
    with open(osp.join(root, 'configs', 'metafile.yml'), 'w') as f:
        yaml.safe_dump(meta, f, sort_keys=False)
    readme = osp.join(root, 'README.md')
    with open(readme, 'w') as f:
        f.write(f'top\n{README_BEGIN}\nhand-edited\n{README_END}\n')
    status, _, err = modelzoo()
    assert status == 2
    assert 'not the metafile\'s rendering' in err
    status, out, err = modelzoo('--write-readme')
    assert status == 0, err
    assert 'section written' in out
    status, out, err = modelzoo('--check')
    assert status == 0, err
    assert '3 entries match the configs' in out
    with open(readme) as f:
        assert readme_section(f.read()) == render_section(meta)
