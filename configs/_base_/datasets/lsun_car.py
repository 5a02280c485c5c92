# LSUN car (train) and 100 held-out car images (test) at 384x512 (height x
# width), the image size of the LSUN car StyleGAN2; see
# glean_plugin/datasets/presets.py ('car'). Leaves pick the LR folder
# (BIx8_down: 48x64, BIx16_down: 24x32).
_base_ = './sisr_folders.py'

train_dataloader = dict(
    dataset=dict(
        metainfo=dict(dataset_type='car'),
        data_root='data/car_train',
        ann_file='meta_info_LSUNcar_GT.txt'))
val_dataloader = dict(
    dataset=dict(
        metainfo=dict(dataset_type='car'),
        data_root='data/car_test',
        ann_file='meta_info_Car100_GT.txt'))
test_dataloader = val_dataloader
