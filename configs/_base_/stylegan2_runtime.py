# Runtime of the StyleGAN2 configs: the GLEAN runtime without a best
# checkpoint (there is no validation), checkpoints in MMagic's model-zoo
# layout (generator_ema.<key>: GLEAN loads the bank with
# prefix='generator_ema') and a grid of fixed-latent samples at each
# checkpoint, in <work_dir>/samples/iter_<n>.png.
_base_ = './default_runtime.py'

default_hooks = dict(
    checkpoint=dict(save_best=None, rule=None, max_keep_ckpts=3))
custom_hooks = [
    dict(type='FiniteLossHook'),
    dict(type='EMACheckpointLayoutHook'),
    dict(type='SampleGridHook', num_samples=16),
]
