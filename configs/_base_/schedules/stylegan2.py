# StyleGAN2's optimisers: Adam, lr 0.002, betas (0, 0.99), each corrected
# for lazy regularisation by ratio = interval / (interval + 1): G's path
# length every 4 steps (4/5), D's R1 every 16 steps (16/17), the intervals of
# MMagic's base_styleganv2 model (models/stylegan2.py).
# No validation loop: FID needs Inception weights (a download); look at the
# sample grids (SampleGridHook) instead.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=800_000)

optim_wrapper = dict(
    constructor='MultiOptimWrapperConstructor',
    generator=dict(
        type='OptimWrapper',
        optimizer=dict(type='Adam', lr=0.002 * 4 / 5, betas=(0.0, 0.99**(4 / 5)))),
    discriminator=dict(
        type='OptimWrapper',
        optimizer=dict(
            type='Adam', lr=0.002 * 16 / 17, betas=(0.0, 0.99**(16 / 17)))))
