"""Models: plain layers, the latent bank, and the registered GLEAN backbone."""
from .glean import GLEANNet
from .latent_bank import StyleGAN2LatentBank, stylegan2_channels

__all__ = ['GLEANNet', 'StyleGAN2LatentBank', 'stylegan2_channels']
