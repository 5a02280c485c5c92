"""SampleGridHook (fixed-latent sample grids) and EMACheckpointLayoutHook
(MMagic's model-zoo layout of the EMA generator), on fake and real models.
End to end with the StyleGAN2 configs: test_stylegan2_training.py."""
import logging
import os
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import CheckpointHook

from glean_plugin import StyleGAN2Generator
from glean_plugin.engine import EMACheckpointLayoutHook, SampleGridHook
from glean_plugin.fileio import partial_files
from glean_plugin.registry import HOOKS, MODELS

NOISE_SIZE, SIDE = 4, 4
TINY_GEN = dict(type='GLEANStyleGAN2Generator', out_size=8, style_channels=4,
                num_mlps=1, max_channels=4)
TINY_DISC = dict(type='GLEANDiscriminator', in_size=8, max_channels=4)


class FakeGenerator(nn.Module):
    """Images whose red channel is z[:, 0] clipped to [-1, 1], green -1,
    blue +1; records the calls' keyword arguments and modes."""

    noise_size = NOISE_SIZE

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.calls = []

    def forward(self, z: torch.Tensor, **kwargs) -> torch.Tensor:
        self.calls.append((kwargs, self.training, torch.is_grad_enabled()))
        img = torch.ones(z.shape[0], 3, SIDE, SIDE)
        img[:, 0] = z[:, :1, None].clamp(-1, 1)
        img[:, 1] = -1
        return img


class FakeEMA(nn.Module):
    """MMagic's averaging wrapper: the generator is ``.module``."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module


def gan(generator):
    """A model holding only ``generator``."""
    return SimpleNamespace(generator=generator)


def fake_runner(tmp_path, model, iters=5, hooks=()):
    return SimpleNamespace(model=model, hooks=list(hooks), iter=0,
                           max_iters=iters, work_dir=str(tmp_path),
                           logger=logging.getLogger('test_gan_hooks'))


def started(hook, runner):
    hook.before_train(runner)
    return hook


@pytest.mark.parametrize('kwargs,message', [
    (dict(interval=0), 'interval must be a positive int, got 0'),
    (dict(interval=2.5), 'interval must be a positive int, got 2.5'),
    (dict(num_samples=0), 'num_samples must be a positive int, got 0'),
    (dict(nrow=-1), 'nrow must be a positive int, got -1'),
    (dict(channel_order='rgba'), "channel_order must be one of ('rgb', "
     "'bgr'), got 'rgba'"),
])
def test_sample_hook_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as err:
        SampleGridHook(**kwargs)
    assert message in str(err.value)


def test_sample_hook_is_registered():
    hook = HOOKS.build(dict(type='SampleGridHook', interval=3))
    assert isinstance(hook, SampleGridHook) and hook.interval == 3


def test_interval_follows_the_checkpoint_hook(tmp_path):
    ckpt = CheckpointHook(interval=7, by_epoch=False)
    hook = started(SampleGridHook(),
                   fake_runner(tmp_path, gan(FakeGenerator()), hooks=[ckpt]))
    assert hook.interval == 7


def test_no_interval_and_no_checkpoint_hook(tmp_path):
    epochs = CheckpointHook(interval=1, by_epoch=True)
    runner = fake_runner(tmp_path, gan(FakeGenerator()), hooks=[epochs])
    with pytest.raises(ValueError, match='give interval'):
        SampleGridHook().before_train(runner)


def test_model_without_generator(tmp_path):
    model = SimpleNamespace(generator=None)
    with pytest.raises(ValueError, match='has no generator'):
        SampleGridHook(interval=1).before_train(fake_runner(tmp_path, model))


def test_generator_without_latent_size(tmp_path):
    model = SimpleNamespace(generator=nn.Linear(2, 2))
    with pytest.raises(ValueError, match='no noise_size or style_channels'):
        SampleGridHook(interval=1).before_train(fake_runner(tmp_path, model))


def test_codes_are_seeded(tmp_path):
    def codes(seed):
        runner = fake_runner(tmp_path, gan(FakeGenerator()))
        return started(SampleGridHook(interval=1, seed=seed), runner)._codes

    torch.manual_seed(123)  # the global RNG does not matter
    a = codes(0)
    assert a.shape == (16, NOISE_SIZE)
    assert torch.equal(a, codes(0))
    assert not torch.equal(a, codes(1))


@pytest.mark.parametrize('order', ['rgb', 'bgr'])
def test_grid_layout_and_values(tmp_path, order):
    gen = FakeGenerator().train()
    hook = started(SampleGridHook(interval=1, num_samples=5, channel_order=
                                  order), fake_runner(tmp_path, gan(gen)))
    grid = hook.grid(gen)
    # ceil(sqrt(5)) = 3 per row, 2 rows; 2 pixels of white padding
    assert grid.dtype == np.uint8
    assert grid.shape == (2 * (SIDE + 2) + 2, 3 * (SIDE + 2) + 2, 3)
    assert (grid[:2] == 255).all() and (grid[:, :2] == 255).all()
    first = grid[2:2 + SIDE, 2:2 + SIDE]
    z0 = hook._codes[0, 0].clamp(-1, 1).item()
    red = round((z0 + 1) / 2 * 255)
    expected = [red, 0, 255] if order == 'rgb' else [255, 0, red]
    assert (first == np.array(expected, dtype=np.uint8)).all()
    # the sixth cell is padding colour
    assert (grid[8:8 + SIDE, 14:14 + SIDE] == 255).all()
    # sampled without gradients, in eval mode, with the fixed noise; the
    # generator's mode is restored
    kwargs, training, grad = gen.calls[-1]
    assert kwargs == dict(randomize_noise=False)
    assert not training and not grad
    assert gen.training


def test_samples_the_ema_generator_when_there_is_one(tmp_path):
    gen, ema = FakeGenerator(), FakeGenerator()
    model = SimpleNamespace(generator=gen, generator_ema=FakeEMA(ema))
    hook = started(SampleGridHook(interval=1), fake_runner(tmp_path, model))
    hook.write_grid(fake_runner(tmp_path, model))
    assert len(ema.calls) == 1 and not gen.calls


def test_writes_at_interval_and_last_iteration(tmp_path):
    gen = FakeGenerator()
    runner = fake_runner(tmp_path, gan(gen), iters=5)
    hook = started(SampleGridHook(interval=2), runner)
    for it in range(runner.max_iters):
        runner.iter = it
        hook.after_train_iter(runner, it)
    folder = tmp_path / 'samples'
    assert sorted(os.listdir(folder)) == ['iter_2.png', 'iter_4.png',
                                          'iter_5.png']
    assert partial_files(str(folder)) == []
    np.testing.assert_array_equal(iio.imread(folder / 'iter_5.png'),
                                  hook.grid(gen))


def test_real_generator_gives_the_same_grid_twice(tmp_path):
    gen = MODELS.build(TINY_GEN).train()
    assert isinstance(gen, StyleGAN2Generator)
    hook = started(SampleGridHook(interval=1, num_samples=4),
                   fake_runner(tmp_path, gan(gen)))
    a, b = hook.grid(gen), hook.grid(gen)
    assert a.shape == (2 * 10 + 2, 2 * 10 + 2, 3)
    np.testing.assert_array_equal(a, b)  # fixed codes and noise
    assert a[2:10, 2:10].std() > 0  # an image, not a constant
    assert gen.training


# --------------------------------------------------------------------------
# EMACheckpointLayoutHook
# --------------------------------------------------------------------------
def stylegan2_model():
    import mmagic.models  # noqa: F401  (registers StyleGAN2)
    return MODELS.build(dict(type='StyleGAN2', generator=TINY_GEN,
                             discriminator=TINY_DISC,
                             ema_config=dict(type='ExponentialMovingAverage')))


def test_ema_layout_round_trip():
    model = stylegan2_model()
    for p in model.generator_ema.module.parameters():
        p.data.normal_()
    model.generator_ema.steps.fill_(7)
    hook = HOOKS.build(dict(type='EMACheckpointLayoutHook'))
    checkpoint = dict(meta=dict(iter=7), state_dict=model.state_dict())
    assert 'generator_ema.steps' in checkpoint['state_dict']
    hook.before_save_checkpoint(None, checkpoint)
    state = checkpoint['state_dict']
    assert checkpoint['meta'] == dict(iter=7, generator_ema_steps=7)
    ema = {k[len('generator_ema.'):]: v for k, v in state.items()
           if k.startswith('generator_ema.')}
    # exactly the generator's keys, MMagic's published layout
    assert ema.keys() == model.generator_ema.module.state_dict().keys()
    for key, value in model.generator_ema.module.state_dict().items():
        assert torch.equal(ema[key], value), key
    assert not any('.module.' in k for k in state)

    hook.after_load_checkpoint(None, checkpoint)
    assert checkpoint['state_dict']['generator_ema.steps'] == 7
    other = stylegan2_model()
    other.load_state_dict(checkpoint['state_dict'], strict=True)
    assert other.generator_ema.steps == 7
    for a, b in zip(other.generator_ema.parameters(),
                    model.generator_ema.parameters()):
        assert torch.equal(a, b)


def test_ema_layout_leaves_other_checkpoints_alone():
    hook = EMACheckpointLayoutHook()
    state = {'generator.w': torch.ones(1)}
    checkpoint = dict(meta={}, state_dict=dict(state))
    hook.before_save_checkpoint(None, checkpoint)
    hook.after_load_checkpoint(None, checkpoint)
    assert checkpoint == dict(meta={}, state_dict=state)
