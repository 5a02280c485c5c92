"""What MMagic's own unit tests of GLEAN, SRGAN and the StyleGAN2 modules
exercise, through MMagic's public API with glean_plugin.dropin imported
first: construction with MMagic's arguments, forward shapes, SRGAN's
train_step with the plugin's generator and discriminator.

The drop-in rebinds MMagic's names for the whole process, so each test runs
in a fresh interpreter.
"""
import pytest

from tests.support.helpers import run_python

# The arguments of MMagic's tests (test_glean_styleganv2.py,
# test_stylegan2_generator.py, test_stylegan2_discriminator.py).
GLEAN_ARGS = dict(in_size=16, out_size=64, style_channels=4)
GEN_ARGS = dict(out_size=64, style_channels=16, num_mlps=4,
                channel_multiplier=1)
DISC_ARGS = dict(in_size=64, channel_multiplier=1)


@pytest.mark.slow
def test_srgan_glean_train_step_with_mmagic_arguments():
    proc = run_python(f'''
        import torch
        import glean_plugin.dropin
        from glean_plugin import GLEANDiscriminator, GLEANNet
        from glean_plugin.dropin import MMAGIC_CLASSES
        from mmengine.optim import OptimWrapper
        from mmagic.models import SRGAN, DataPreprocessor, GLEANStyleGANv2
        from mmagic.models.editors.stylegan2 import StyleGAN2Discriminator
        from mmagic.models.losses import GANLoss, MSELoss
        from mmagic.structures import DataSample

        torch.manual_seed(0)
        model = SRGAN(
            generator=dict(type='GLEANStyleGANv2', **{GLEAN_ARGS!r}),
            discriminator=dict(type='StyleGANv2Discriminator', in_size=64),
            pixel_loss=dict(type='MSELoss', loss_weight=1.0,
                            reduction='mean'),
            # MMagic's test takes PerceptualLoss with torchvision's VGG16
            # download; offline, the plugin's loss with random VGG weights
            perceptual_loss=dict(
                type='VGGPerceptualLoss', layer_weights={{'21': 1.0}},
                vgg_type='vgg16', perceptual_weight=1e-2, style_weight=0,
                norm_img=True, criterion='mse', pretrained=None),
            gan_loss=dict(type='GANLoss', gan_type='vanilla',
                          loss_weight=1e-2, real_label_val=1.0,
                          fake_label_val=0),
            train_cfg=None, test_cfg=None,
            data_preprocessor=DataPreprocessor())
        assert isinstance(model.generator, GLEANStyleGANv2)
        assert isinstance(model.discriminator, StyleGAN2Discriminator)
        assert type(model.generator) is GLEANNet
        assert type(model.discriminator) is GLEANDiscriminator
        assert isinstance(model.pixel_loss, MSELoss)
        assert isinstance(model.gan_loss, GANLoss)

        # MMagic's networks with the same arguments: same parameters
        def shapes(module):
            return {{k: tuple(v.shape)
                    for k, v in module.state_dict().items()}}
        theirs = MMAGIC_CLASSES['GLEANStyleGANv2'](**{GLEAN_ARGS!r})
        assert shapes(model.generator) == shapes(theirs)
        del theirs
        theirs = MMAGIC_CLASSES['StyleGANv2Discriminator'](in_size=64)
        assert shapes(model.discriminator) == shapes(theirs)
        del theirs

        optim_wrapper = {{
            name: OptimWrapper(torch.optim.Adam(
                getattr(model, name).parameters(), lr=1e-4,
                betas=(0.9, 0.999)))
            for name in ('generator', 'discriminator')}}
        before = {{k: v.clone() for k, v in model.state_dict().items()}}
        inputs = torch.rand(1, 3, 16, 16)
        data = dict(inputs=inputs,
                    data_samples=[DataSample(gt_img=torch.rand(3, 64, 64))])
        log_vars = model.train_step(data, optim_wrapper)
        assert set(log_vars) == {{'loss_pix', 'loss_perceptual', 'loss_gan',
                                 'loss_d_real', 'loss_d_fake'}}, log_vars
        assert all(torch.isfinite(torch.as_tensor(v))
                   for v in log_vars.values()), log_vars
        changed = {{k for k, v in model.state_dict().items()
                   if not torch.equal(v, before[k])}}
        for part in ('generator.', 'discriminator.'):
            assert any(k.startswith(part) for k in changed), part
        # the latent bank (MMagic's key prefix) is frozen
        bank = {{k for k in before if k.startswith('generator.generator.')}}
        assert bank and not bank & changed

        output = model.val_step(data)
        assert output[0].output.pred_img.shape == (3, 64, 64)
        output = model(torch.rand(1, 3, 16, 16), mode='tensor')
        assert output.shape == (1, 3, 64, 64)
        print('SRGAN_OK')
    ''', timeout=600)
    assert 'SRGAN_OK' in proc.stdout


@pytest.mark.slow
def test_stylegan2_modules_with_mmagic_arguments():
    """MMagic's StyleGAN2 generator and discriminator tests' calls, the
    conditional ones (cond_size, label) and style_mixing included; styles of
    the wrong size raise ModelInputError, a ValueError and the
    AssertionError MMagic's test expects."""
    proc = run_python(f'''
        import torch
        import glean_plugin.dropin
        from glean_plugin import GLEANDiscriminator, StyleGAN2Generator as Ours
        from glean_plugin.dropin import MMAGIC_CLASSES
        from mmagic.models.editors.stylegan2 import (
            ADAStyleGAN2Discriminator, StyleGAN2Discriminator,
            StyleGAN2Generator)

        assert StyleGAN2Generator is Ours
        g = StyleGAN2Generator(**{GEN_ARGS!r})
        assert g(None, num_batches=2).shape == (2, 3, 64, 64)
        assert not hasattr(g, 'truncation_latent')
        assert g(None, num_batches=2, truncation=0.9).shape == (2, 3, 64, 64)
        assert g.truncation_latent.shape == (1, 16)
        mean = g.get_mean_latent()
        res = g(None, num_batches=2, randomize_noise=False, truncation=0.7,
                truncation_latent=mean)
        assert res.shape == (2, 3, 64, 64)
        noise = g.make_injected_noise()
        a = g(None, num_batches=1, injected_noise=noise,
              randomize_noise=False)
        assert a.shape == (1, 3, 64, 64)
        styles = [torch.randn((1, 16)) for _ in range(2)]
        res = g(styles, num_batches=1, injected_noise=None,
                randomize_noise=False)
        assert res.shape == (1, 3, 64, 64)
        res = g(torch.randn, num_batches=1, injected_noise=None,
                randomize_noise=False)
        assert res.shape == (1, 3, 64, 64)
        g.eval()
        assert g.default_style_mode == 'single'
        g.train()
        assert g.default_style_mode == 'mix'
        try:
            g([torch.randn((1, 6)) for _ in range(2)])
        except AssertionError as err:
            assert isinstance(err, ValueError), type(err)
            assert 'styles must be (N, 16), got (1, 6)' in str(err), err
        else:
            raise RuntimeError('styles of the wrong size were accepted')
        grid = g.style_mixing(n_source=2, n_target=3)
        assert grid.shape == ((2 + 1) * (3 + 1), 3, 64, 64), grid.shape
        g.mix_prob = 1
        assert g(None, num_batches=2).shape == (2, 3, 64, 64)
        g.mix_prob = 0
        assert g(None, num_batches=2).shape == (2, 3, 64, 64)

        g = StyleGAN2Generator(update_mean_latent_with_ema=True,
                               **{GEN_ARGS!r})
        mean = g.get_mean_latent().clone()
        assert mean.shape == (16,) and (mean == 0).all()
        g.eval()
        res = g(None, num_batches=1, injected_noise=None,
                randomize_noise=False, return_noise=True,
                return_features=True, feat_idx=1)
        assert res['feats'].shape == (1, 512, 8, 8)
        assert res['latent'].shape == (1, 10, 16)
        g(None, num_batches=1, update_ws=True)
        assert torch.equal(g.get_mean_latent(), mean)  # not in eval
        res = g(None, num_batches=1, return_latent_only=True)
        assert res.shape == (1, 10, 16)
        g.train()
        g(None, num_batches=1, update_ws=True)
        trained = g.get_mean_latent().clone()
        assert not torch.equal(trained, mean)
        g(None, num_batches=1, update_ws=False)
        assert torch.equal(g.get_mean_latent(), trained)

        # conditional models, as MMagic's tests build them
        cg = StyleGAN2Generator(cond_size=5, cond_mapping_channels=16,
                                **{GEN_ARGS!r})
        label = torch.nn.functional.one_hot(torch.tensor([1, 3]), 5).float()
        assert cg(None, label=label, num_batches=2).shape == (2, 3, 64, 64)
        cd = StyleGAN2Discriminator(cond_size=5, cond_mapping_channels=16,
                                    **{DISC_ARGS!r})
        assert cd(torch.randn(2, 3, 64, 64), label=label).shape == (2, 1)

        d = StyleGAN2Discriminator(**{DISC_ARGS!r})
        assert type(d) is GLEANDiscriminator
        assert d(torch.randn(2, 3, 64, 64)).shape == (2, 1)
        # MMagic's ADA discriminator subclasses MMagic's own class
        ada = ADAStyleGAN2Discriminator(data_aug=dict(type='ADAAug'),
                                        **{DISC_ARGS!r})
        assert isinstance(ada, MMAGIC_CLASSES['StyleGAN2Discriminator'])
        assert ada(torch.randn(2, 3, 64, 64)).shape == (2, 1)
        print('STYLEGAN2_OK')
    ''')
    assert 'STYLEGAN2_OK' in proc.stdout
