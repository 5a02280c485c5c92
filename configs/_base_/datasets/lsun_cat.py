# LSUN cat (train) and Cat100 (test), MMagic's GLEAN layout. Leaves pick the
# LR folder (BIx8_down, BIx16_down).
_base_ = './sisr_folders.py'

train_dataloader = dict(
    dataset=dict(
        metainfo=dict(dataset_type='cat'),
        data_root='data/cat_train',
        ann_file='meta_info_LSUNcat_GT.txt'))
val_dataloader = dict(
    dataset=dict(
        metainfo=dict(dataset_type='cat'),
        data_root='data/cat_test',
        ann_file='meta_info_Cat100_GT.txt'))
test_dataloader = val_dataloader
