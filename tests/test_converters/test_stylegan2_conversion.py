"""rosinality's and NVIDIA's StyleGAN2 checkpoints -> MMagic's layout.

Source checkpoints are written here from each layout's documented keys and
shapes (``stylegan2_sources``), converted, loaded strictly into
``StyleGAN2LatentBank`` / ``GLEANDiscriminator``, and compared with forward
passes written from the source layouts' definitions.
"""
import argparse
import os
import os.path as osp
import runpy
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from glean_plugin.checkpoint import CheckpointMismatchError, check_state_dict
from glean_plugin.converters import (ConversionWarning, convert_stylegan2,
                                     load_stylegan2_source, save_checkpoint)
from glean_plugin.models import (GLEANDiscriminator, GLEANNet,
                                 StyleGAN2LatentBank)
from tests.support import stylegan2_sources as src
from tests.support.helpers import REPO_ROOT, assert_rel_close

SIZE = 32
CAP = 16  # every resolution capped: a small model (max_channels=16)
STYLE = 16
NUM_MLPS = 2
TABLE = src.stylegan2_table(SIZE, 2, CAP)
REL_TOL = 1e-5
TOOL = osp.join(REPO_ROOT, 'tools', 'convert_stylegan2.py')

REFERENCE = {
    'rosinality': (src.rosinality_mapping, src.rosinality_synthesis,
                   src.rosinality_discriminator),
    'nvidia': (src.nvidia_mapping, src.nvidia_synthesis,
               src.nvidia_discriminator),
}


def rosinality_checkpoint(lr_mlp=0.01):
    """What rosinality's train.py saves (optimizer states abridged)."""
    return {
        'g_ema': src.rosinality_generator_state(SIZE, TABLE, STYLE, NUM_MLPS,
                                                lr_mlp),
        'g': src.rosinality_generator_state(SIZE, TABLE, STYLE, NUM_MLPS,
                                            lr_mlp, seed=5),
        'd': src.rosinality_discriminator_state(SIZE, TABLE),
        'g_optim': {'state': {}, 'param_groups': [{'lr': 0.002}]},
        'args': argparse.Namespace(size=SIZE, r1=10.0),
        'latent_avg': torch.randn(STYLE),
    }


def nvidia_states(lr_mlp=0.01):
    return (src.nvidia_generator_state(SIZE, TABLE, STYLE, NUM_MLPS, lr_mlp),
            src.nvidia_discriminator_state(SIZE, TABLE))


def split(checkpoint):
    """(generator_ema state, discriminator state) of a converted one."""
    parts = {'generator_ema': {}, 'discriminator': {}}
    for key, value in checkpoint['state_dict'].items():
        head, rest = key.split('.', 1)
        parts[head][rest] = value
    return parts['generator_ema'], parts['discriminator']


def assert_same_function(converted, fmt, g_state, d_state, lr_mlp=0.01,
                         mbstd_group=4):
    """The converted networks compute what the source ones do (source
    mapping lr multiplier ``lr_mlp``, minibatch-stddev group size
    ``mbstd_group``)."""
    mapping, synthesis, discriminator = REFERENCE[fmt]
    g_cfg = converted['meta']['generator_cfg']
    d_cfg = converted['meta']['discriminator_cfg']
    assert g_cfg == dict(out_size=SIZE, style_channels=STYLE,
                         num_mlps=NUM_MLPS, channel_multiplier=2,
                         max_channels=CAP, lr_mlp=0.01)
    bank = StyleGAN2LatentBank(**g_cfg).eval()
    disc = GLEANDiscriminator(**d_cfg).eval()
    bank_state, disc_state = split(converted)
    bank.load_state_dict(bank_state, strict=True)
    disc.load_state_dict(disc_state, strict=True)
    gen = torch.Generator().manual_seed(7)
    z = torch.randn(3, STYLE, generator=gen)
    latents = torch.randn(3, bank.num_latents, STYLE, generator=gen)
    images = torch.randn(4, 3, SIZE, SIZE, generator=gen)
    with torch.no_grad():
        assert_rel_close(bank.map_latents(z), mapping(g_state, z, lr_mlp),
                         REL_TOL, 'mapping')
        _, rgb = bank(latents, return_rgb=True)  # the fixed noise maps
        assert_rel_close(rgb, synthesis(g_state, latents), REL_TOL, 'rgb')
        assert_rel_close(disc(images),
                         discriminator(d_state, images, mbstd_group),
                         REL_TOL, 'logits')


# --------------------------------------------------------------------------- #
# same function as the source
# --------------------------------------------------------------------------- #
def test_rosinality_checkpoint_converts_to_the_same_function(tmp_path):
    path = str(tmp_path / 'stylegan2-cat.pt')
    ckpt = rosinality_checkpoint()
    torch.save(ckpt, path)
    with warnings.catch_warnings():
        warnings.simplefilter('error', ConversionWarning)
        converted = convert_stylegan2(load_stylegan2_source(path),
                                      source_name='stylegan2-cat.pt')
    assert converted['meta']['converted_from'] == \
        "rosinality's stylegan2-pytorch"
    assert torch.equal(converted['meta']['w_avg'], ckpt['latent_avg'])
    assert_same_function(converted, 'rosinality', ckpt['g_ema'], ckpt['d'])


def test_nvidia_state_dicts_convert_to_the_same_function(tmp_path):
    path = str(tmp_path / 'snapshot.pth')
    g_state, d_state = nvidia_states()
    torch.save({'G_ema': g_state, 'D': d_state}, path)
    converted = convert_stylegan2(load_stylegan2_source(path))
    assert torch.equal(converted['meta']['w_avg'], g_state['mapping.w_avg'])
    assert_same_function(converted, 'nvidia', g_state, d_state)


def test_flat_prefixed_nvidia_state_dict_is_accepted():
    g_state, d_state = nvidia_states()
    flat = {**{f'G_ema.{k}': v for k, v in g_state.items()},
            **{f'D.{k}': v for k, v in d_state.items()}}
    assert_same_function(convert_stylegan2(flat), 'nvidia', g_state, d_state)


@pytest.mark.parametrize('source_lr,conv_clamp', [(0.01, None), (0.1, 256)])
def test_nvidia_pickle_through_stand_ins(tmp_path, source_lr, conv_clamp):
    """A network pickle whose classes (torch_utils.persistence, dnnlib) are
    not importable when it is read. Its lr multiplier (bias_gain) rescales
    the mapping to the target's 0.01; a conv_clamp is warned about."""
    path = str(tmp_path / 'network-snapshot-000100.pkl')
    g_state, d_state = nvidia_states(source_lr)
    g_attrs = {f'mapping.fc{i}': dict(
        activation='lrelu', weight_gain=source_lr / np.sqrt(STYLE),
        bias_gain=source_lr) for i in range(NUM_MLPS)}
    g_attrs['synthesis.b8.conv0'] = dict(conv_clamp=conv_clamp, up=2)
    d_attrs = {'b4.mbstd': dict(group_size=2, num_channels=1)}
    src.write_nvidia_pickle(path, g_state, d_state, g_attrs, d_attrs)
    assert 'torch_utils' not in sys.modules and 'dnnlib' not in sys.modules
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', ConversionWarning)
        converted = convert_stylegan2(load_stylegan2_source(path))
    messages = [str(w.message) for w in caught
                if issubclass(w.category, ConversionWarning)]
    if conv_clamp is None:
        assert not messages
    else:
        assert len(messages) == 1 and 'clamps conv outputs to +-256' in \
            messages[0]
        with pytest.raises(ValueError, match='lr_multiplier=0.1'):
            convert_stylegan2(load_stylegan2_source(path),
                              source_lr_mlp=0.01)
    assert converted['meta']['discriminator_cfg']['mbstd_cfg'] == dict(
        group_size=2, channel_groups=1)
    assert_same_function(converted, 'nvidia', g_state, d_state, source_lr,
                         mbstd_group=2)


def test_missing_discriminator_warns():
    source = {'g_ema': src.rosinality_generator_state(SIZE, TABLE, STYLE,
                                                      NUM_MLPS)}
    with pytest.warns(ConversionWarning, match='no discriminator'):
        converted = convert_stylegan2(source)
    assert all(k.startswith('generator_ema.')
               for k in converted['state_dict'])
    assert 'discriminator_cfg' not in converted['meta']


def test_configs_pretrained_init_cfg_loads_the_result(tmp_path):
    """GLEANNet's bank and GLEANDiscriminator load it as the configs do."""
    ckpt = rosinality_checkpoint()
    path = str(tmp_path / 'converted.pth')
    save_checkpoint(convert_stylegan2(ckpt), path)
    glean = GLEANNet(
        in_size=8, out_size=SIZE, style_channels=STYLE, num_mlps=NUM_MLPS,
        max_channels=CAP, rrdb_channels=8, num_rrdbs=1,
        init_cfg=dict(type='Pretrained', checkpoint=path,
                      prefix='generator_ema'))
    disc = GLEANDiscriminator(
        SIZE, max_channels=CAP,
        init_cfg=dict(type='Pretrained', checkpoint=path,
                      prefix='discriminator'))
    glean.init_weights()
    disc.init_weights()
    assert torch.equal(glean.generator.constant_input.input,
                       ckpt['g_ema']['input.input'])
    assert torch.equal(glean.generator.injected_noise_4,
                       ckpt['g_ema']['noises.noise_4'])
    assert torch.equal(disc.final_linear[1].linear.weight_orig,
                       ckpt['d']['final_linear.1.weight'])


@pytest.mark.parametrize('fmt,size,multiplier', [('rosinality', 1024, 2),
                                                 ('nvidia', 256, 1),
                                                 ('nvidia', 512, 2)])
def test_full_size_layouts_fit_mmagic_shapes(fmt, size, multiplier):
    """Published sizes (config-f, paper256), shapes only (meta tensors):
    the inferred arguments build modules whose keys and shapes are exactly
    the converted ones."""
    table = src.stylegan2_table(size, multiplier, None)
    if fmt == 'rosinality':
        source = {'g_ema': src.rosinality_generator_state(
            size, table, 512, 8, device='meta'),
                  'd': src.rosinality_discriminator_state(size, table,
                                                          device='meta')}
    else:
        source = {'G_ema': src.nvidia_generator_state(size, table, 512, 8,
                                                      device='meta'),
                  'D': src.nvidia_discriminator_state(size, table,
                                                      device='meta')}
    converted = convert_stylegan2(source)
    g_cfg = converted['meta']['generator_cfg']
    assert g_cfg == dict(out_size=size, style_channels=512, num_mlps=8,
                         channel_multiplier=multiplier, max_channels=None,
                         lr_mlp=0.01)
    with torch.device('meta'):
        bank = StyleGAN2LatentBank(**g_cfg)
        disc = GLEANDiscriminator(**converted['meta']['discriminator_cfg'])
    g_state, d_state = split(converted)
    check_state_dict(g_state, bank.state_dict(), 'bank', fmt)
    check_state_dict(d_state, disc.state_dict(), 'discriminator', fmt)


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize('source,match', [
    ({'model': {'conv.weight': torch.zeros(1)}},
     r"not a StyleGAN2 checkpoint.*Expected rosinality's.*'g_ema'.*"
     r"NVIDIA's.*'G_ema'.*found a dict with keys: model"),
    ({'conv.weight': torch.zeros(1)},
     r'not a StyleGAN2 checkpoint.*generator keys: conv.weight'),
    ({'state_dict': {'generator_ema.constant_input.input': torch.zeros(1)}},
     "already in MMagic's layout"),
    ([1, 2], 'found a list'),
])
def test_unknown_layout_names_expected_and_found(source, match):
    with pytest.raises(CheckpointMismatchError, match=match):
        convert_stylegan2(source)


def test_tensorflow_pickle_is_named():
    from glean_plugin.converters.files import _stand_in
    network = _stand_in('dnnlib.tflib.network', 'Network')()
    with pytest.raises(CheckpointMismatchError, match='TensorFlow'):
        convert_stylegan2((network, network, network))


def test_keys_inconsistent_with_the_architecture():
    ckpt = rosinality_checkpoint()
    ckpt['g_ema']['convs.1.conv.weight'] = torch.zeros(1, 16, 8, 3, 3)
    del ckpt['g_ema']['noises.noise_2']
    with pytest.raises(CheckpointMismatchError) as err:
        convert_stylegan2(ckpt)
    message = str(err.value)
    assert 'rosinality' in message and 'out_size=32' in message
    assert 'missing 1 keys: noises.noise_2' in message
    assert ('convs.1.conv.weight (found (1, 16, 8, 3, 3), expected '
            '(1, 16, 16, 3, 3))') in message

    g_state, d_state = nvidia_states()
    g_state['mapping.embed.weight'] = torch.zeros(STYLE, 10)  # conditional
    with pytest.raises(CheckpointMismatchError,
                       match=r'(?s)unexpected 1 keys: mapping.embed.weight'
                       r'.*unconditional'):
        convert_stylegan2({'G_ema': g_state, 'D': d_state})


def test_discriminator_of_another_layout_or_size():
    ckpt = rosinality_checkpoint()
    g_state, d_state = nvidia_states()
    with pytest.raises(CheckpointMismatchError,
                       match="discriminator 'd' is not"):
        convert_stylegan2({'g_ema': ckpt['g_ema'], 'd': d_state})
    small = src.rosinality_discriminator_state(16, TABLE)
    with pytest.raises(CheckpointMismatchError,
                       match='takes 16x16 images, but the generator makes '
                       '32x32'):
        convert_stylegan2({'g_ema': ckpt['g_ema'], 'd': small})


@pytest.mark.parametrize('options,match', [
    (dict(size=64), "size=64 was given, but the generator 'g_ema' of the "
     'checkpoint has size=32'),
    (dict(style_channels=512), 'style_channels=512 was given.*has '
     'style_channels=16'),
    (dict(num_mlps=8), 'num_mlps=8 was given.*num_mlps=2'),
    (dict(max_channels=32), r'channel_multiplier=1, max_channels=32 gives '
     r'channels \{4: 32.*but .* has \{4: 16.*'
     'channel_multiplier=1, max_channels=16 fits'),
])
def test_options_disagreeing_with_the_tensors(options, match):
    with pytest.raises(ValueError, match=match):
        convert_stylegan2(rosinality_checkpoint(), **options)


def test_options_agreeing_with_the_tensors_pick_among_fits():
    converted = convert_stylegan2(
        rosinality_checkpoint(), size=SIZE, style_channels=STYLE,
        num_mlps=NUM_MLPS, channel_multiplier=4, max_channels=CAP)
    assert converted['meta']['generator_cfg']['channel_multiplier'] == 4
    assert converted['meta']['discriminator_cfg']['channel_multiplier'] == 4


# --------------------------------------------------------------------------- #
# command line
# --------------------------------------------------------------------------- #
@pytest.mark.slow
def test_cli_end_to_end(tmp_path):
    source = str(tmp_path / 'ffhq.pt')
    out = str(tmp_path / 'out' / 'ffhq_mmagic.pth')
    ckpt = rosinality_checkpoint()
    del ckpt['d']
    torch.save(ckpt, source)
    proc = subprocess.run(
        [sys.executable, TOOL, source, out, '--size', str(SIZE)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stderr
    assert 'warning: ffhq.pt has no discriminator' in proc.stderr
    assert ("out_size=32, style_channels=16, num_mlps=2, channel_multiplier="
            "2, max_channels=16, lr_mlp=0.01") in proc.stdout
    saved = torch.load(out, weights_only=True)  # no allow-list needed
    assert torch.equal(saved['state_dict']['generator_ema.conv1.conv.'
                                           'weight_orig'],
                       ckpt['g_ema']['conv1.conv.weight'])
    assert os.listdir(osp.dirname(out)) == ['ffhq_mmagic.pth']


def run_cli(args, capsys, monkeypatch):
    """(exit status, stderr) of the tool run as __main__ in this process."""
    monkeypatch.setattr(sys, 'argv', [TOOL] + [str(a) for a in args])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(TOOL, run_name='__main__')
    return exit_info.value.code, capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch):
    source = str(tmp_path / 'cat.pt')
    torch.save(rosinality_checkpoint(), source)
    dst = tmp_path / 'cat_mmagic.pth'
    dst.write_bytes(b'keep me')
    code, err = run_cli([source, dst], capsys, monkeypatch)
    assert code == 2 and err.startswith('error: ') and 'Traceback' not in err
    assert '--overwrite' in err and dst.read_bytes() == b'keep me'

    code, err = run_cli([source, dst, '--overwrite', '--channel-multiplier',
                         '1', '--max-channels', '32'], capsys, monkeypatch)
    assert code == 2 and err.startswith('error: channel_multiplier=1, '
                                        'max_channels=32 gives')
    assert dst.read_bytes() == b'keep me'

    code, err = run_cli([tmp_path / 'missing.pt', tmp_path / 'x.pth'],
                        capsys, monkeypatch)
    assert code == 2 and 'not found' in err

    code, _ = run_cli([source, dst, '--overwrite'], capsys, monkeypatch)
    assert code == 0
    assert 'generator_ema.style_mapping.1.bias' in torch.load(
        str(dst), weights_only=True)['state_dict']
    assert sorted(os.listdir(tmp_path)) == ['cat.pt', 'cat_mmagic.pth']
