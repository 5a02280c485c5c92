# glean_ffhq_in128out1024-blind with the StyleGAN2 latent bank and
# discriminator in float16 (MMagic's fp16 variant,
# glean_in128out1024-fp16_4xb2-300k_ffhq-celeba-hq.py). For mixed precision
# of the whole model use tools/train.py --amp.
_base_ = './glean_ffhq_in128out1024-blind.py'

experiment_name = 'glean_ffhq_in128out1024-blind-fp16'
work_dir = f'./work_dirs/{experiment_name}'

model = dict(
    generator=dict(fp16_enabled=True), discriminator=dict(fp16_enabled=True))
