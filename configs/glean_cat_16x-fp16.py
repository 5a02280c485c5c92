# glean_cat_16x with the StyleGAN2 latent bank and discriminator in float16 (MMagic's
# fp16 variant). For mixed precision of the whole model use tools/train.py --amp.
_base_ = './glean_cat_16x.py'

model = dict(
    generator=dict(fp16_enabled=True), discriminator=dict(fp16_enabled=True))
