# GLEAN as in the paper: L_g = L_mse + 1e-2 L_percep + 1e-2 L_gen,
# L_d = -log D(y) - log(1 - D(y_hat)) (GANLoss 'vanilla' = BCE with logits).
# Leaves set the sizes and the StyleGAN2 checkpoint (latent bank and
# discriminator come from the same file).

model = dict(
    type='SRGAN',
    generator=dict(
        type='GLEANNet',
        in_size=32,
        out_size=256,
        style_channels=512,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=None,  # set in the leaf
            prefix='generator_ema')),
    discriminator=dict(
        type='GLEANDiscriminator',
        in_size=256,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=None,  # set in the leaf
            prefix='discriminator')),
    pixel_loss=dict(type='MSELoss', loss_weight=1.0, reduction='mean'),
    perceptual_loss=dict(
        type='VGGPerceptualLoss',
        layer_weights={'21': 1.0},
        vgg_type='vgg16',
        perceptual_weight=1e-2,
        norm_img=False,
        criterion='mse',
        pretrained='torchvision://vgg16'),
    gan_loss=dict(
        type='GANLoss',
        gan_type='vanilla',
        loss_weight=1e-2,
        real_label_val=1.0,
        fake_label_val=0),
    train_cfg=dict(),
    test_cfg=dict(),
    data_preprocessor=dict(
        type='DataPreprocessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5]),
)

# Each sub-model in its own DDP; checkpoints are saved without '.module.'.
model_wrapper_cfg = dict(type='GLEANSeparateDDP', find_unused_parameters=True)
