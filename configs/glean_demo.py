# The embedded demo: GLEAN 4x (8 -> 32) on faces, trained on CPU in minutes,
# on a data set built from the LFW faces that ship with scikit-image (80
# training faces, 20 held out; no download):
#   python -c "from glean_plugin.datasets import build_demo_dataset; \
#              build_demo_dataset('data/demo')"
#   python tools/train.py configs/glean_demo.py
# A small latent bank (reduced channel table, random: no StyleGAN2 is trained
# on these faces), a small discriminator, and a perceptual loss with random
# VGG weights (no ImageNet weights offline). Losses and their weights are the
# paper's; the learning rate and schedule are shortened for the demo.
_base_ = [
    './_base_/default_runtime.py', './_base_/models/glean.py',
    './_base_/schedules/glean_300k.py', './_base_/datasets/sisr_folders.py'
]

experiment_name = 'glean_demo'
work_dir = f'./work_dirs/{experiment_name}'
data_root = 'data/demo'
scale = 4
in_size, out_size = 8, 32
max_iters = 2000
randomness = dict(seed=0)

model = dict(
    generator=dict(
        in_size=in_size,
        out_size=out_size,
        style_channels=32,
        max_channels=32,
        num_mlps=2,
        rrdb_channels=32,
        num_rrdbs=2,
        init_cfg=None),
    discriminator=dict(in_size=out_size, max_channels=16, init_cfg=None),
    perceptual_loss=dict(pretrained=None))

train_cfg = dict(max_iters=max_iters, val_interval=500)
optim_wrapper = dict(
    generator=dict(optimizer=dict(lr=1e-3)),
    discriminator=dict(optimizer=dict(lr=1e-4)))
param_scheduler = dict(T_max=max_iters, eta_min=1e-5)

default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=500, max_keep_ckpts=3))

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    dataset=dict(
        data_root=f'{data_root}/train',
        data_prefix=dict(img=f'BIx{scale}_down')))
val_dataloader = dict(
    num_workers=0,
    dataset=dict(
        data_root=f'{data_root}/val',
        data_prefix=dict(img=f'BIx{scale}_down')))
test_dataloader = val_dataloader

env_cfg = dict(dist_cfg=dict(backend='gloo'))
