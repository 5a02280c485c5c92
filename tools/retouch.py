"""Retouch an edited image with GLEAN: downsample it MATLAB-like to the
model's in_size, then super-resolve it into a natural image.

Example (a 256x256 cat image with paint on it, GLEAN 8x 32 -> 256)::

    python tools/retouch.py configs/glean_cat_8x.py glean_cat_8x.pth \
        cat_painted.png results/cat_retouched.png --save-lr

EDITED_IMAGE must be square with a side that is a multiple of the model's
in_size (usually its out_size), unless --resize. --save-lr also writes the
LR input as ``<OUTPUT stem>_lr.png``.
"""
import argparse
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.apis import retouch_file
from glean_plugin.apis.cli import (add_model_arguments, build_from_args,
                                   run_main)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_model_arguments(parser)
    parser.add_argument('edited_image', help='the edited high-resolution '
                        'image')
    parser.add_argument('output', help='output .png file')
    parser.add_argument('--save-lr', action='store_true',
                        help='also write the downsampled input next to '
                        'OUTPUT (<OUTPUT stem>_lr.png)')
    parser.add_argument('--resize', action='store_true',
                        help='take any size: resize MATLAB-like straight to '
                        'in_size x in_size (non-square images are '
                        'stretched), with a warning')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing outputs (never the input)')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    generator, settings = build_from_args(args)
    output, lr_path = retouch_file(generator, args.edited_image, args.output,
                                   settings, resize=args.resize,
                                   save_lr=args.save_lr,
                                   overwrite=args.overwrite)
    print(f'wrote {output}' + (f' and {lr_path}' if lr_path else ''))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
