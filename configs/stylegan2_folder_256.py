# A StyleGAN2 latent bank (config-f, 256x256) for GLEAN, trained on any
# folder of one category's images. Prepare the folder (256x256 PNGs in
# OUT/GT, listed in OUT/meta_info_GT.txt), then train:
#   python tools/prepare_data.py folder IMAGES OUT --size 256 \
#       --fit center-crop
#   tools/dist_train.sh configs/stylegan2_folder_256.py 8 \
#       --cfg-options train_dataloader.dataset.data_root=OUT
# Written for 8 GPUs x 4 images = 32, MMagic's FFHQ-256 setting. Sample
# grids: <work_dir>/samples/iter_<n>.png; GLEAN reads the bank from a
# checkpoint with prefix='generator_ema' (README, "Train your own bank").
_base_ = [
    './_base_/stylegan2_runtime.py', './_base_/models/stylegan2.py',
    './_base_/schedules/stylegan2.py',
    './_base_/datasets/unconditional_folder.py'
]

experiment_name = 'stylegan2_folder_256'
work_dir = f'./work_dirs/{experiment_name}'
out_size = 256
batch_size = 4
total_batch = 8 * batch_size  # 8 GPUs
# EMA half-life in thousands of images (StyleGAN2's G_smoothing_kimg)
ema_half_life_kimg = 10.

model = dict(
    generator=dict(out_size=out_size),
    discriminator=dict(in_size=out_size),
    ema_config=dict(
        type='ExponentialMovingAverage',
        interval=1,
        momentum=1. - 0.5**(total_batch / (ema_half_life_kimg * 1000.))))

default_hooks = dict(checkpoint=dict(interval=10_000, max_keep_ckpts=5))

train_dataloader = dict(batch_size=batch_size)
