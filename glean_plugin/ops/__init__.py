"""Pure tensor functions (no mmengine, no MMagic): StyleGAN2 and GLEAN ops."""
from .bias_act import bias_leaky_relu, noise_bias_leaky_relu
from .modulated_conv import MODULATED_CONV_IMPLS, modulated_conv2d
from .upfirdn2d import make_fir_kernel, upfirdn2d

__all__ = ['bias_leaky_relu', 'make_fir_kernel', 'modulated_conv2d',
           'MODULATED_CONV_IMPLS', 'noise_bias_leaky_relu', 'upfirdn2d']
