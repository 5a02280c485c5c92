# GLEAN 8x on LSUN car: 48x64 -> 384x512 (height x width).
# Batch: written for 8 GPUs x 2 images = 16, the paper's total batch for
# this category:  tools/dist_train.sh configs/glean_car_8x.py 8
# On another number of GPUs G, add --cfg-options train_dataloader.batch_size=16/G.
_base_ = [
    './_base_/default_runtime.py', './_base_/models/glean.py',
    './_base_/schedules/glean_300k.py', './_base_/datasets/lsun_car.py'
]

experiment_name = 'glean_car_8x'
work_dir = f'./work_dirs/{experiment_name}'

# StyleGAN2 latent bank and discriminator (MMagic model zoo: NVIDIA's
# config-f car weights, configs/styleganv2 "official weight"; MMagic's own
# training is stylegan2_c2_lsun-car_384x512_b4x8_1800k_20210424_160929-fc9072ca.pth).
# Offline: put the file in torch's hub cache (~/.cache/torch/hub/checkpoints/)
# or give a path.
stylegan2_checkpoint = ('https://download.openmmlab.com/mmediting/stylegan2/official_weights/'
                        'stylegan2-car-config-f-official_20210327_172340-8cfe053c.pth')

# The car StyleGAN2 is a square 512 generator trained on 384x512 photos with
# 64 black rows above and below. GLEANNet pads the 48x64 input with 8 rows
# of -1 (black after the data preprocessor's normalisation) above and below,
# runs the square 64 -> 512 GLEAN and returns rows 64:448, 384x512; the
# discriminator pads 384x512 images back to 512x512 the same way. Losses
# and metrics (PSNR, SSIM) therefore see the 384x512 picture only.
model = dict(
    generator=dict(
        in_size=64, out_size=512, in_shape=(48, 64),
        init_cfg=dict(checkpoint=stylegan2_checkpoint)),
    discriminator=dict(
        in_size=512, in_shape=(384, 512),
        init_cfg=dict(checkpoint=stylegan2_checkpoint)))

train_dataloader = dict(
    batch_size=2, dataset=dict(data_prefix=dict(img='BIx8_down')))
val_dataloader = dict(dataset=dict(data_prefix=dict(img='BIx8_down')))
test_dataloader = val_dataloader
