# LSUN church outdoor at 256x256: train and test folders. Leaves pick the LR
# folder.
_base_ = './sisr_folders.py'

train_dataloader = dict(
    dataset=dict(
        metainfo=dict(dataset_type='church'),
        data_root='data/church_train',
        ann_file='meta_info_LSUNchurch_GT.txt'))
val_dataloader = dict(
    dataset=dict(
        metainfo=dict(dataset_type='church'),
        data_root='data/church_test',
        ann_file='meta_info_LSUNchurch_test_GT.txt'))
test_dataloader = val_dataloader
