# Ablation of glean_cat_8x (paper: multi-resolution encoder features,
# added progressively from the coarsest): the encoder's features are fused
# into the latent bank at 4x4 .. 4x4 only (GLEAN: up to 32x32).
_base_ = '../glean_cat_8x.py'

experiment_name = 'glean_x8-encfeat-to4_8xb2_cat'
work_dir = f'./work_dirs/{experiment_name}'

model = dict(generator=dict(encoder_fusion_res=4))
