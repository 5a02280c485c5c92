# Blind (real-world) face super-resolution data, as MMagic's
# glean_in128out1024_4xb2-300k_ffhq-celeba-hq.py: each 1024x1024 GT face is
# degraded on the fly with MMagic's transforms (random blur, downscaling,
# Gaussian noise, JPEG) into its 128x128 input, so training needs GT images
# only; validation and test use CelebA-HQ val100 with its BIx8_down inputs.
# GT folder: data/FFHQ_CelebAHQ/GT (MMagic's layout: FFHQ and CelebA-HQ
# 1024 images together) with meta_info_GT.txt, e.g. written by
#   python tools/prepare_data.py folder GT_DIR data/FFHQ_CelebAHQ \
#       --scales 8 --meta-file meta_info_GT.txt
_base_ = './ffhq_celebahq.py'

scale = 8
gt_size, lq_size = 1024, 128
# Resampling methods each RandomResize picks from, with equal probability.
resize_opt = ['bilinear', 'area', 'bicubic']
resize_prob = [1 / 3., 1 / 3., 1 / 3.]

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', color_type='color',
         channel_order='rgb'),
    dict(type='SetValues', dictionary=dict(scale=scale)),
    dict(type='CopyValues', src_keys=['gt'], dst_keys=['img']),
    # blur: isotropic or anisotropic Gaussian, sigma 0.2-10, any angle
    dict(
        type='RandomBlur',
        params=dict(
            kernel_size=[41],
            kernel_list=['iso', 'aniso'],
            kernel_prob=[0.5, 0.5],
            sigma_x=[0.2, 10],
            sigma_y=[0.2, 10],
            rotate_angle=[-3.1416, 3.1416]),
        keys=['img']),
    # downscale by a random factor in [1/32, 1]
    dict(
        type='RandomResize',
        params=dict(
            resize_mode_prob=[0, 1, 0],  # up, down, keep
            resize_scale=[0.03125, 1],
            resize_opt=resize_opt,
            resize_prob=resize_prob),
        keys=['img']),
    dict(
        type='RandomNoise',
        params=dict(
            noise_type=['gaussian'],
            noise_prob=[1],
            gaussian_sigma=[0, 50],
            gaussian_gray_noise_prob=0),
        keys=['img']),
    dict(type='RandomJPEGCompression', params=dict(quality=[5, 50]),
         keys=['img']),
    # back to the GT size, clip, then area-downscale to the model's input
    dict(
        type='RandomResize',
        params=dict(target_size=(gt_size, gt_size), resize_opt=resize_opt,
                    resize_prob=resize_prob),
        keys=['img']),
    dict(type='Clip', keys=['img']),
    dict(
        type='RandomResize',
        params=dict(target_size=(lq_size, lq_size), resize_opt=['area'],
                    resize_prob=[1]),
        keys=['img']),
    dict(type='Flip', keys=['img', 'gt'], flip_ratio=0.5,
         direction='horizontal'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='BasicImageDataset',
        metainfo=dict(dataset_type='ffhq_celebahq', task_name='sisr'),
        data_root='data/FFHQ_CelebAHQ',
        data_prefix=dict(gt='GT'),
        ann_file='meta_info_GT.txt',
        pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_prefix=dict(img=f'BIx{scale}_down')))
test_dataloader = val_dataloader
