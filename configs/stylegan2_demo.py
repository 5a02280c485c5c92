# The demo's latent bank: a tiny StyleGAN2 (32x32, channel table capped at
# 64) trained on the demo's training faces (data/demo/train/GT, built by
# glean_plugin.datasets.build_demo_dataset; the held-out faces are never
# read), on CPU in minutes:
#   python tools/train.py configs/stylegan2_demo.py
# Sample grids: work_dirs/stylegan2_demo/samples/iter_<n>.png. The EMA
# generator is GLEAN's bank (init_cfg prefix='generator_ema'); its
# style_channels, num_mlps and max_channels must be the GLEAN config's.
_base_ = [
    './_base_/stylegan2_runtime.py', './_base_/models/stylegan2.py',
    './_base_/schedules/stylegan2.py',
    './_base_/datasets/unconditional_folder.py'
]

experiment_name = 'stylegan2_demo'
work_dir = f'./work_dirs/{experiment_name}'
out_size = 32
batch_size = 16
max_iters = 600
randomness = dict(seed=0)

bank = dict(style_channels=32, num_mlps=2, max_channels=64)
model = dict(
    generator=dict(out_size=out_size, **bank),
    discriminator=dict(in_size=out_size, max_channels=bank['max_channels']),
    # the average over the last ~10% of the images seen (StyleGAN3's ramp)
    ema_config=dict(
        _delete_=True,
        type='RampUpEMA',
        ema_kimg=1,
        ema_rampup=0.1,
        batch_size=batch_size))

train_cfg = dict(max_iters=max_iters)

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=200))

train_dataloader = dict(
    batch_size=batch_size,
    num_workers=0,
    dataset=dict(data_root='data/demo/train'))

env_cfg = dict(dist_cfg=dict(backend='gloo'))
