# The demo's latent bank: a tiny StyleGAN2 (32x32, 32 channels) trained on
# the demo's training faces (data/demo/train/GT, built by
# glean_plugin.datasets.build_demo_dataset; the held-out faces are never
# read), on CPU in minutes:
#   python tools/train.py configs/stylegan2_demo.py
# Sample grids: work_dirs/stylegan2_demo/samples/iter_<n>.png. The EMA
# generator is GLEAN's bank (init_cfg prefix='generator_ema'); the GLEAN
# config must share its style_channels, num_mlps and max_channels.
_base_ = [
    './_base_/stylegan2_runtime.py', './_base_/models/stylegan2.py',
    './_base_/schedules/stylegan2.py',
    './_base_/datasets/unconditional_folder.py'
]

experiment_name = 'stylegan2_demo'
work_dir = f'./work_dirs/{experiment_name}'
out_size = 32
batch_size = 32
max_iters = 800
randomness = dict(seed=0)
# R1 gamma: FFHQ-256's 10 keeps this small D too smooth to see the
# generator's noise speckle; 0.3 learns smooth face-like shapes (0.1
# collapsed). On these 640 images every setting tried turns to speckle after
# about 30k images (~950 iterations): stop before.
r1_gamma = 0.3

bank = dict(style_channels=32, num_mlps=2, max_channels=32)
model = dict(
    # no style mixing: so short a run has no styles to separate yet
    generator=dict(out_size=out_size, mix_prob=0., **bank),
    discriminator=dict(in_size=out_size, max_channels=bank['max_channels']),
    # the average over the last ~10% of the images seen (StyleGAN3's ramp)
    ema_config=dict(
        _delete_=True,
        type='RampUpEMA',
        ema_kimg=1,
        ema_rampup=0.1,
        batch_size=batch_size),
    loss_config=dict(r1_loss_weight=r1_gamma / 2 * 16))  # 16: r1_interval

train_cfg = dict(max_iters=max_iters)

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=200))

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=0,
    dataset=dict(data_root='data/demo/train'))

env_cfg = dict(dist_cfg=dict(backend='gloo'))
