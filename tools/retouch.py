"""Retouch an edited image with GLEAN: downsample it MATLAB-like to the
model's input shape, then super-resolve it into a natural image.

Example (a 256x256 cat image with paint on it, GLEAN 8x 32 -> 256)::

    python tools/retouch.py configs/glean_cat_8x.py glean_cat_8x.pth \
        cat_painted.png results/cat_retouched.png --save-lr

EDITED_IMAGE must be k times the model's input shape for an integer k
(usually its output shape: 256x256 for glean_cat_8x, 512x384 WxH for
glean_car_8x), unless --resize, which keeps its aspect ratio
(--resize-mode). --save-lr also writes the LR input as
``<OUTPUT stem>_lr.png``.
"""
import argparse
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.apis import retouch_file
from glean_plugin.apis.cli import (add_model_arguments, add_resize_arguments,
                                   build_from_args, check_resize_arguments)
from glean_plugin.cli import run_tool


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_model_arguments(parser)
    parser.add_argument('edited_image', help='the edited high-resolution '
                        'image')
    parser.add_argument('output', help='output .png file')
    parser.add_argument('--save-lr', action='store_true',
                        help='also write the downsampled input next to '
                        'OUTPUT (<OUTPUT stem>_lr.png)')
    add_resize_arguments(
        parser, "take any shape: fit it to the model's input shape keeping "
        'its aspect ratio (--resize-mode), resizing MATLAB-like, with a '
        'warning')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing outputs (never the input)')
    args = parser.parse_args()
    check_resize_arguments(parser, args)
    return args


def main() -> int:
    args = parse_args()
    generator, settings = build_from_args(args)
    output, lr_path = retouch_file(generator, args.edited_image, args.output,
                                   settings, resize=args.resize,
                                   save_lr=args.save_lr,
                                   overwrite=args.overwrite,
                                   resize_mode=args.resize_mode)
    print(f'wrote {output}' + (f' and {lr_path}' if lr_path else ''))
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
