# StyleGAN2 (config-f) trained with MMagic's own StyleGAN2 model: the
# non-saturating logistic loss, lazy R1 on D every 16 steps and path-length
# regularisation of G every 4 steps (both scaled by their interval), an EMA
# generator. The generator and discriminator are the plugin's (pure PyTorch,
# MMagic's arguments and state-dict keys). Leaves set the sizes and the EMA
# speed; the optimiser's lazy-regularisation ratios are in
# schedules/stylegan2.py.
_base_ = 'mmagic::_base_/models/base_styleganv2.py'

model = dict(
    generator=dict(type='GLEANStyleGAN2Generator'),
    discriminator=dict(type='GLEANDiscriminator'),
    data_preprocessor=dict(
        type='DataPreprocessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5]))

# Each sub-model in its own DDP; checkpoints are saved without '.module.'.
model_wrapper_cfg = dict(type='GLEANSeparateDDP', find_unused_parameters=True)
