# Paired GT / LR folders (MMagic's BasicImageDataset, 'sisr' task). Leaves set
# data_root, the LR folder (e.g. BIx8_down, MATLAB-like bicubic) and the
# meta-info files; see README, "Data".
dataset_type = 'BasicImageDataset'

train_pipeline = [
    dict(type='LoadImageFromFile', key='img', color_type='color',
         channel_order='rgb'),
    dict(type='LoadImageFromFile', key='gt', color_type='color',
         channel_order='rgb'),
    dict(type='Flip', keys=['img', 'gt'], flip_ratio=0.5,
         direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', key='img', color_type='color',
         channel_order='rgb'),
    dict(type='LoadImageFromFile', key='gt', color_type='color',
         channel_order='rgb'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    num_workers=4,
    batch_size=2,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        metainfo=dict(dataset_type='glean', task_name='sisr'),
        data_root='data/train',
        data_prefix=dict(img='BIx8_down', gt='GT'),
        ann_file='meta_info_GT.txt',
        pipeline=train_pipeline))

val_dataloader = dict(
    num_workers=4,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        metainfo=dict(dataset_type='glean', task_name='sisr'),
        data_root='data/test',
        data_prefix=dict(img='BIx8_down', gt='GT'),
        ann_file='meta_info_GT.txt',
        pipeline=test_pipeline))

test_dataloader = val_dataloader
