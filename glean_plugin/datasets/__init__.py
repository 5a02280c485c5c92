"""Data sets the plugin builds itself (no downloads)."""
from .demo import NUM_FACES, build_demo_dataset
from .prepare import (matlab_downsample, matlab_resize, prepare_dataset,
                      prepare_sr_folders)
from .presets import FIT_MODES, PRESETS, DatasetPreset, get_preset

__all__ = [
    'NUM_FACES', 'build_demo_dataset',
    'matlab_downsample', 'matlab_resize', 'prepare_dataset',
    'prepare_sr_folders', 'FIT_MODES', 'PRESETS', 'DatasetPreset',
    'get_preset'
]
