"""Data sets the plugin builds itself (no downloads)."""
from .demo import DEMO_TRAIN_IMAGES, DEMO_VAL_IMAGES, build_demo_dataset
from .prepare import matlab_downsample, prepare_sr_folders

__all__ = [
    'DEMO_TRAIN_IMAGES', 'DEMO_VAL_IMAGES', 'build_demo_dataset',
    'matlab_downsample', 'prepare_sr_folders'
]
