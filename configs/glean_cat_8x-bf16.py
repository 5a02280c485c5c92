# glean_cat_8x trained with bfloat16 autocast (no loss scaling needed).
_base_ = './glean_cat_8x.py'

optim_wrapper = dict(
    generator=dict(type='AmpOptimWrapper', dtype='bfloat16'),
    discriminator=dict(type='AmpOptimWrapper', dtype='bfloat16'))
