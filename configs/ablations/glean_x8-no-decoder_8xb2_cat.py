# Ablation of glean_cat_8x (paper: importance of the decoder): no
# decoder, the output is the latent bank's own RGB image (its to-RGB skip
# path), the bank still conditioned on the encoder's features and codes.
_base_ = '../glean_cat_8x.py'

experiment_name = 'glean_x8-no-decoder_8xb2_cat'
work_dir = f'./work_dirs/{experiment_name}'

model = dict(generator=dict(use_decoder=False))
