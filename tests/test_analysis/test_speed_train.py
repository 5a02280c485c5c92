"""The speed harness's training step follows the GLEAN config: its losses
and weights, its discriminator and its optimizers (no repeated
constants)."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from glean_plugin.analysis import speed_train
from glean_plugin.analysis.speed_cli import DEFAULT_CONFIG, parse_args
from glean_plugin.analysis.speed_models import (Runner, build_discriminators,
                                                glean_config)
from glean_plugin.models import GLEANDiscriminator
from tests.support.helpers import REPO_ROOT


def test_default_config_is_the_repositorys():
    assert DEFAULT_CONFIG == osp.join(REPO_ROOT, 'configs',
                                      'glean_cat_8x.py')
    assert osp.isfile(DEFAULT_CONFIG)


def test_losses_are_the_configs():
    cfg = Config.fromfile(DEFAULT_CONFIG)
    losses = speed_train.GleanLosses(cfg)
    model = cfg.model
    assert losses.gan.loss_weight == model.gan_loss.loss_weight
    assert losses.perceptual.perceptual_weight == \
        model.perceptual_loss.perceptual_weight
    torch.manual_seed(0)
    out, gt = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    fake, real = torch.randn(2, 1), torch.randn(2, 1)
    ones = torch.ones(2, 1)
    # GLEAN: L_g = MSE + w_p * perceptual + w_gan * BCE(D(fake), real)
    want_g = (F.mse_loss(out, gt) + losses.perceptual(out, gt)[0] +
              model.gan_loss.loss_weight *
              F.binary_cross_entropy_with_logits(fake, ones))
    assert losses.generator(out, gt, fake).item() == pytest.approx(
        want_g.item(), rel=1e-6)
    want_d = (F.binary_cross_entropy_with_logits(real, ones) +
              F.binary_cross_entropy_with_logits(fake, 0 * ones))
    assert losses.discriminator(real, fake).item() == pytest.approx(
        want_d.item(), rel=1e-6)
    # another weight in the config: another loss
    cfg.model.gan_loss.loss_weight = 1.
    other = speed_train.GleanLosses(cfg)
    assert other.gan.loss_weight == 1.


def test_optimizers_and_discriminator_are_the_configs(tmp_path):
    config = tmp_path / 'glean.py'
    config.write_text(
        f"_base_ = '{DEFAULT_CONFIG}'\n"
        "optim_wrapper = dict(generator=dict(optimizer=dict(lr=3e-3)))\n")
    args = parse_args(['--sizes', '8x16', '--channel-multiplier', '1',
                       '--config', str(config)])
    gen = torch.nn.Conv2d(3, 3, 1)
    _, disc, _ = build_discriminators(16, args)
    assert isinstance(disc, GLEANDiscriminator)
    step = speed_train.TrainStep(Runner(gen, args), disc,
                                 speed_train.GleanLosses(args.config),
                                 args.config)
    assert isinstance(step.opt_g, torch.optim.Adam)
    assert step.opt_g.defaults['lr'] == 3e-3
    assert step.opt_d.defaults['lr'] == 1e-4
    assert step.opt_d.defaults['betas'] == (0.9, 0.99)


def test_a_config_without_the_recipe_is_refused(tmp_path):
    config = tmp_path / 'edsr.py'
    config.write_text("model = dict(type='BaseEditModel', generator=dict("
                      "type='EDSRNet'))\n")
    with pytest.raises(ValueError, match=r'edsr.py is not a GLEAN training '
                       r'config: it has no discriminator, pixel_loss, '
                       r'perceptual_loss, gan_loss, optim_wrapper'):
        glean_config(str(config))
