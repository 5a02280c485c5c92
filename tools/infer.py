"""Super-resolve an image or a folder of images (no ground truth needed).

Example::

    python tools/infer.py configs/glean_cat_8x.py glean_cat_8x.pth \
        cats_32/ results/ --batch-size 16 --device cuda

Writes ``OUTPUT_DIR/<input stem>.png``. Inputs must have the model's input
shape (e.g. 32x32 for glean_cat_8x, 64x48 WxH for glean_car_8x) unless
--resize, which keeps their aspect ratio (--resize-mode); non-image files
in a folder are skipped with a warning, and so are images that cannot be
read (truncated, corrupt), after which the other images are still
processed. Never writes onto an input;
refuses to replace existing outputs unless --overwrite.

Exit status: 0; 1 if some images of a folder could not be read (the others
were written; the summary lists them); 2 for bad input, where nothing is
written (one ``error:`` line).
"""
import argparse
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.apis import super_resolve_files
from glean_plugin.apis.cli import (add_model_arguments, add_resize_arguments,
                                   build_from_args, check_resize_arguments)
from glean_plugin.checkpoint import format_key_list
from glean_plugin.cli import EXIT_PARTIAL, run_tool


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_model_arguments(parser)
    parser.add_argument('input', help='an image, or a folder of images')
    parser.add_argument('output_dir', help='output folder (created if needed)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per forward pass (default: 1)')
    add_resize_arguments(
        parser, "fit inputs of another shape than the model's input shape, "
        'keeping their aspect ratio (--resize-mode) and resizing MATLAB-like '
        '(bicubic, anti-aliased), with a warning')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing outputs (never inputs)')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress bar')
    args = parser.parse_args()
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    check_resize_arguments(parser, args)
    return args


def main() -> int:
    args = parse_args()
    generator, settings = build_from_args(args)
    summary = super_resolve_files(
        generator, args.input, args.output_dir, settings,
        batch_size=args.batch_size, resize=args.resize,
        overwrite=args.overwrite, progress=not args.no_progress,
        resize_mode=args.resize_mode)
    print(f'\nwrote {len(summary.written)} image(s) to {args.output_dir}')
    if summary.resized:
        print(f'resized {len(summary.resized)} input(s): '
              f'{", ".join(summary.resized)}')
    if summary.skipped:
        print(f'skipped {len(summary.skipped)} non-image entr'
              f'{"y" if len(summary.skipped) == 1 else "ies"}: '
              f'{", ".join(summary.skipped)}')
    if summary.failed:
        print(f'error: {len(summary.failed)} of '
              f'{len(summary.failed) + len(summary.written)} image(s) could '
              f'not be read and were skipped: '
              f'{format_key_list(summary.failed)}', file=sys.stderr)
        return EXIT_PARTIAL
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
