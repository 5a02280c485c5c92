# Ablation of glean_cat_8x (no latent bank): the decoder reads no latent
# bank features (zeros in their place), an RRDB encoder-decoder; the bank is
# not run.
_base_ = '../glean_cat_8x.py'

experiment_name = 'glean_x8-no-bankfeat_8xb2_cat'
work_dir = f'./work_dirs/{experiment_name}'

model = dict(generator=dict(decoder_bank_res=0))
