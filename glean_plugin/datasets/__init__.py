"""Data sets the plugin builds itself (no downloads)."""
from .demo import DEMO_TRAIN_IMAGES, DEMO_VAL_IMAGES, build_demo_dataset
from .prepare import (matlab_downsample, matlab_resize, prepare_dataset,
                      prepare_sr_folders)
from .presets import FIT_MODES, PRESETS, DatasetPreset, get_preset

__all__ = [
    'DEMO_TRAIN_IMAGES', 'DEMO_VAL_IMAGES', 'build_demo_dataset',
    'matlab_downsample', 'matlab_resize', 'prepare_dataset',
    'prepare_sr_folders', 'FIT_MODES', 'PRESETS', 'DatasetPreset',
    'get_preset'
]
