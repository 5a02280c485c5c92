"""glean_plugin.apis.generator: strict checkpoint loading, image settings,
device choice."""
import pytest
import torch
from mmengine.config import Config

from glean_plugin.apis import InferenceSettings, init_generator, resolve_device
from glean_plugin.checkpoint import CheckpointMismatchError
from glean_plugin.models import GLEANNet
from tests.support.tiny_glean import (CONFIG, IN_SIZE, OUT_SIZE,
                                      generator_state, model_state,
                                      save_checkpoint)


def assert_weights(generator, expected):
    state = generator.state_dict()
    assert set(state) == set(expected)
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def test_loads_the_generator_of_an_mmengine_checkpoint(tmp_path):
    ckpt = save_checkpoint(tmp_path / 'model.pth')
    generator = init_generator(CONFIG, ckpt, 'cpu')
    assert isinstance(generator, GLEANNet)
    assert (generator.in_size, generator.out_size) == (IN_SIZE, OUT_SIZE)
    assert not generator.training
    assert not any(p.requires_grad for p in generator.parameters())
    assert_weights(generator, generator_state())


def test_loads_a_bare_generator_state_dict(tmp_path):
    ckpt = save_checkpoint(tmp_path / 'bare.pth', generator_state(),
                           wrap=False)
    assert_weights(init_generator(CONFIG, ckpt, 'cpu'), generator_state())


def test_prefers_ema_weights_and_honours_an_explicit_prefix(tmp_path):
    plain = generator_state()
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in plain.items()}
    state = model_state()
    state.update({f'generator_ema.{k}': v for k, v in ema.items()})
    ckpt = save_checkpoint(tmp_path / 'ema.pth', state)
    assert_weights(init_generator(CONFIG, ckpt, 'cpu'), ema)
    assert_weights(init_generator(CONFIG, ckpt, 'cpu', prefix='generator'),
                   plain)


def test_ddp_infix_is_stripped(tmp_path):
    state = {k.replace('generator.', 'generator.module.', 1)
             if k.startswith('generator.') else k: v
             for k, v in model_state().items()}
    ckpt = save_checkpoint(tmp_path / 'ddp.pth', state)
    assert_weights(init_generator(CONFIG, ckpt, 'cpu'), generator_state())


def test_missing_and_unexpected_keys_are_named(tmp_path):
    state = generator_state()
    del state['decoder.0.upsample_conv.weight']
    state['decoder.9.weight'] = torch.zeros(1)
    ckpt = save_checkpoint(tmp_path / 'broken.pth', state)
    with pytest.raises(CheckpointMismatchError) as err:
        init_generator(CONFIG, ckpt, 'cpu')
    message = str(err.value)
    assert 'missing 1 of' in message
    assert 'decoder.0.upsample_conv.weight' in message
    assert 'unexpected 1 keys: decoder.9.weight' in message


def test_checkpoint_of_another_size_names_both_sizes(tmp_path):
    other = GLEANNet(in_size=16, out_size=OUT_SIZE, style_channels=32,
                     max_channels=32, num_mlps=2, rrdb_channels=32,
                     num_rrdbs=2)
    state = {f'generator.{k}': v for k, v in other.state_dict().items()}
    ckpt = save_checkpoint(tmp_path / 'x4.pth', state)
    with pytest.raises(CheckpointMismatchError) as err:
        init_generator(CONFIG, ckpt, 'cpu')
    message = str(err.value)
    assert f'in_size=16, out_size={OUT_SIZE}' in message
    assert f'config builds in_size={IN_SIZE}, out_size={OUT_SIZE}' in message


def test_stylegan2_checkpoint_is_recognised(tmp_path):
    bank = {k: v for k, v in generator_state().items()
            if k.startswith('generator.')}
    state = {k.replace('generator.', 'generator_ema.', 1): v
             for k, v in bank.items()}
    ckpt = save_checkpoint(tmp_path / 'stylegan2.pth', state)
    with pytest.raises(CheckpointMismatchError, match='StyleGAN2 checkpoint'):
        init_generator(CONFIG, ckpt, 'cpu')


def test_prefix_without_keys_and_missing_files(tmp_path):
    ckpt = save_checkpoint(tmp_path / 'model.pth')
    with pytest.raises(CheckpointMismatchError,
                       match="no key under prefix 'ema'.*discriminator"):
        init_generator(CONFIG, ckpt, 'cpu', prefix='ema')
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        init_generator(CONFIG, str(tmp_path / 'missing.pth'), 'cpu')
    with pytest.raises(FileNotFoundError, match='config not found'):
        init_generator(str(tmp_path / 'missing.py'), ckpt, 'cpu')


def test_settings_follow_the_config():
    cfg = Config.fromfile(CONFIG)
    settings = InferenceSettings.from_config(cfg)
    assert settings == InferenceSettings(mean=(127.5, ) * 3,
                                         std=(127.5, ) * 3,
                                         channel_order='rgb')
    for loader in ('test_dataloader', 'val_dataloader'):
        for transform in cfg[loader].dataset.pipeline:
            transform['channel_order'] = 'bgr'
    cfg.model.data_preprocessor.mean = [0., 10., 20.]
    cfg.model.data_preprocessor.std = 2.
    settings = InferenceSettings.from_config(cfg)
    assert settings.channel_order == 'bgr'
    assert settings.mean == (0., 10., 20.) and settings.std == (2., 2., 2.)
    cfg.model.data_preprocessor.output_channel_order = 'RGB'
    assert InferenceSettings.from_config(cfg).channel_order == 'rgb'


def test_settings_read_list_loaders():
    """MMagic's SISR configs (EDSR, ESRGAN, ...) test on a list of sets."""
    cfg = Config(dict(
        model=dict(data_preprocessor=dict(mean=[0.] * 3, std=[255.] * 3)),
        test_dataloader=[
            dict(dataset=dict(pipeline=[
                dict(type='LoadImageFromFile', key='img',
                     channel_order='bgr')])),
            dict(dataset=dict(pipeline=[]))]))
    settings = InferenceSettings.from_config(cfg)
    assert settings.channel_order == 'bgr' and settings.std == (255., ) * 3


def test_settings_refuse_what_they_cannot_use():
    cfg = Config.fromfile(CONFIG)
    cfg.model.data_preprocessor.mean = [1., 2.]
    with pytest.raises(ValueError, match=r'mean must have 1 or 3 values, '
                       r'got \[1.0, 2.0\]'):
        InferenceSettings.from_config(cfg)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.pipeline = []
    with pytest.raises(ValueError, match='no LoadImageFromFile'):
        InferenceSettings.from_config(cfg)
    with pytest.raises(ValueError, match="channel_order must be one of"):
        InferenceSettings(channel_order='RGB')


def test_device_choice():
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert resolve_device(None).type == expected
    assert resolve_device('cpu') == torch.device('cpu')
    with pytest.raises(ValueError, match="got 'gpu'"):
        resolve_device('gpu')
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(ValueError, match=f'has {count} CUDA device'):
        resolve_device(f'cuda:{count}')
