"""Data sets the plugin builds itself (no downloads)."""
from .demo import DEMO_TRAIN_IMAGES, DEMO_VAL_IMAGES, build_demo_dataset

__all__ = ['DEMO_TRAIN_IMAGES', 'DEMO_VAL_IMAGES', 'build_demo_dataset']
