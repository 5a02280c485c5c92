# Ablation of glean_cat_8x: the decoder reads the latent bank's features
# at 64x64 .. 128x128 only (zeros above; GLEAN: up to 256x256).
_base_ = '../glean_cat_8x.py'

experiment_name = 'glean_x8-bankfeat-to128_8xb2_cat'
work_dir = f'./work_dirs/{experiment_name}'

model = dict(generator=dict(decoder_bank_res=128))
