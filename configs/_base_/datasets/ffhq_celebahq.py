# FFHQ (train) and CelebA-HQ val100 (test), as the paper's face results.
# Leaves pick the LR folder (BIx16_down, BIx64_down).
_base_ = './sisr_folders.py'

train_dataloader = dict(
    dataset=dict(
        metainfo=dict(dataset_type='ffhq'),
        data_root='data/ffhq',
        data_prefix=dict(gt='images'),
        ann_file='meta_info_FFHQ_GT.txt'))
val_dataloader = dict(
    dataset=dict(
        metainfo=dict(dataset_type='celebahq'),
        data_root='data/CelebA-HQ',
        ann_file='meta_info_CelebAHQ_val100_GT.txt'))
test_dataloader = val_dataloader
