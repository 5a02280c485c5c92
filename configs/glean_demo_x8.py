# Stage 2 of `make demo`: GLEAN 8x (4 -> 32) on the demo faces, with the
# StyleGAN2 latent bank that stage 1 trains on the same training faces
# (configs/stylegan2_demo.py). tools/demo.py sets the bank's checkpoint and
# trains the two controls with the same budget and seed: a random bank
# (init_cfg=None) and no bank (decoder_bank_res=0, the bank is not run).
_base_ = './glean_demo.py'

experiment_name = 'glean_demo_x8'
work_dir = f'./work_dirs/{experiment_name}'
data_root = 'data/demo'
scale = 8
in_size, out_size = 4, 32
max_iters = 500

model = dict(
    generator=dict(
        in_size=in_size,
        init_cfg=dict(
            _delete_=True,
            type='Pretrained',
            checkpoint=None,  # the stage-1 checkpoint, set by tools/demo.py
            prefix='generator_ema')))

train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = dict(T_max=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters, max_keep_ckpts=1))

train_dataloader = dict(
    dataset=dict(
        data_root=f'{data_root}/train',
        data_prefix=dict(img=f'BIx{scale}_down')))
val_dataloader = dict(
    dataset=dict(
        data_root=f'{data_root}/val',
        data_prefix=dict(img=f'BIx{scale}_down')))
test_dataloader = val_dataloader
