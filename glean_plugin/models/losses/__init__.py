"""Losses that MMagic lacks or cannot build offline."""
from .perceptual import VGGPerceptualLoss

__all__ = ['VGGPerceptualLoss']
