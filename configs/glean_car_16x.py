# GLEAN 16x on LSUN car: 24x32 -> 384x512 (height x width), the paper's car
# setting. As glean_car_8x (same latent bank, padding 4 rows above and below
# to 32x32), with the 16x inputs.
_base_ = './glean_car_8x.py'

experiment_name = 'glean_car_16x'
work_dir = f'./work_dirs/{experiment_name}'

model = dict(generator=dict(in_size=32, in_shape=(24, 32)))

train_dataloader = dict(dataset=dict(data_prefix=dict(img='BIx16_down')))
val_dataloader = dict(dataset=dict(data_prefix=dict(img='BIx16_down')))
test_dataloader = val_dataloader
