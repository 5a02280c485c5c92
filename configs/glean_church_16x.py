# GLEAN 16x on LSUN church (256x256): 16 -> 256.
# Batch: written for 8 GPUs x 2 images = 16, the paper's total batch for
# this category:  tools/dist_train.sh configs/glean_church_16x.py 8
# On another number of GPUs G, add --cfg-options train_dataloader.batch_size=16/G.
_base_ = [
    './_base_/default_runtime.py', './_base_/models/glean.py',
    './_base_/schedules/glean_300k.py', './_base_/datasets/lsun_church.py'
]

experiment_name = 'glean_church_16x'
work_dir = f'./work_dirs/{experiment_name}'

# StyleGAN2 latent bank and discriminator (MMagic model zoo). Offline: put the
# file in torch's hub cache (~/.cache/torch/hub/checkpoints/) or give a path.
stylegan2_checkpoint = ('https://download.openmmlab.com/mmediting/stylegan2/official_weights/'
                        'stylegan2-church-config-f-official_20210327_172657-1d42b7d1.pth')

model = dict(
    generator=dict(
        in_size=16, out_size=256,
        init_cfg=dict(checkpoint=stylegan2_checkpoint)),
    discriminator=dict(
        in_size=256, init_cfg=dict(checkpoint=stylegan2_checkpoint)))

train_dataloader = dict(
    batch_size=2, dataset=dict(data_prefix=dict(img='BIx16_down')))
val_dataloader = dict(dataset=dict(data_prefix=dict(img='BIx16_down')))
test_dataloader = val_dataloader
