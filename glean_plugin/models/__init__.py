"""Models: plain layers, the latent bank, and the registered GLEAN parts."""
from .discriminator import GLEANDiscriminator
from .errors import ModelInputError
from .glean import GLEANNet
from .latent_bank import StyleGAN2Base, StyleGAN2LatentBank, stylegan2_channels
from .losses import VGGPerceptualLoss
from .stylegan2_generator import StyleGAN2Generator

__all__ = [
    'GLEANDiscriminator', 'GLEANNet', 'ModelInputError', 'StyleGAN2Base',
    'StyleGAN2Generator', 'StyleGAN2LatentBank', 'VGGPerceptualLoss',
    'stylegan2_channels'
]
