# GLEAN 8x for real-world (blind) faces: 128 -> 1024, trained on GT faces
# degraded on the fly (blur, downscaling, noise, JPEG; see
# _base_/datasets/ffhq_blind.py), validated on CelebA-HQ val100 BIx8_down.
# The plugin's version of MMagic's
# glean_in128out1024_4xb2-300k_ffhq-celeba-hq.py: its degradations, losses
# and optimiser, with the plugin's GLEANNet and discriminator; the cosine
# schedule spans the 300k iterations, as every GLEAN config here (MMagic's
# spans 600k: its learning rate ends near 5e-5, not 1e-7).
# Batch: written for 4 GPUs x 2 images = 8, MMagic's total batch for this
# model:  tools/dist_train.sh configs/glean_ffhq_in128out1024-blind.py 4
# On another number of GPUs G, add
# --cfg-options train_dataloader.batch_size=8/G.
_base_ = [
    './_base_/default_runtime.py', './_base_/models/glean.py',
    './_base_/schedules/glean_300k.py', './_base_/datasets/ffhq_blind.py'
]

experiment_name = 'glean_ffhq_in128out1024-blind'
work_dir = f'./work_dirs/{experiment_name}'

# StyleGAN2 latent bank and discriminator (MMagic model zoo). Offline: put the
# file in torch's hub cache (~/.cache/torch/hub/checkpoints/) or give a path.
stylegan2_checkpoint = ('https://download.openmmlab.com/mmediting/stylegan2/official_weights/'
                        'stylegan2-ffhq-config-f-official_20210327_171224-bce9310c.pth')

model = dict(
    generator=dict(
        in_size=128, out_size=1024,
        init_cfg=dict(checkpoint=stylegan2_checkpoint)),
    discriminator=dict(
        in_size=1024, init_cfg=dict(checkpoint=stylegan2_checkpoint)),
    # MMagic's blind model maps images to [0, 1] before VGG (its 8x/16x
    # GLEANs do not)
    perceptual_loss=dict(norm_img=True))

train_dataloader = dict(batch_size=2)
