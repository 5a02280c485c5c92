"""Models: plain layers, the latent bank, and the registered GLEAN parts."""
from .discriminator import GLEANDiscriminator
from .glean import GLEANNet
from .latent_bank import StyleGAN2LatentBank, stylegan2_channels
from .losses import VGGPerceptualLoss

__all__ = [
    'GLEANDiscriminator', 'GLEANNet', 'StyleGAN2LatentBank',
    'VGGPerceptualLoss', 'stylegan2_channels'
]
