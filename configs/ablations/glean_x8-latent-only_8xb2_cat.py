# Ablation of glean_cat_8x (paper: multi-resolution encoder features):
# the latent bank is conditioned on the encoder's latent codes only, no
# encoder features are fused into it.
_base_ = '../glean_cat_8x.py'

experiment_name = 'glean_x8-latent-only_8xb2_cat'
work_dir = f'./work_dirs/{experiment_name}'

model = dict(generator=dict(encoder_fusion_res=0))
