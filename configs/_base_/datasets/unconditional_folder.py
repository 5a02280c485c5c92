# One folder of same-size images, for unconditional GANs (MMagic's
# BasicImageDataset, images under the 'gt' key): data_root/GT/*.png listed in
# data_root/meta_info_GT.txt, the layout tools/prepare_data.py writes
# (`prepare_data.py folder IMAGES OUT_ROOT --size 256 --fit center-crop`).
# Images are read as RGB, as the GLEAN configs read them.
dataset_type = 'BasicImageDataset'

train_pipeline = [
    dict(type='LoadImageFromFile', key='gt', color_type='color',
         channel_order='rgb'),
    dict(type='Flip', keys=['gt'], flip_ratio=0.5, direction='horizontal'),
    dict(type='PackInputs', keys=['gt']),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=None,  # set in the leaf or with --cfg-options
        data_prefix=dict(gt='GT'),
        ann_file='meta_info_GT.txt',
        pipeline=train_pipeline))
