"""Super-resolve the faces in a photo with a GLEAN face model.

Example::

    python tools/restore_faces.py photo.jpg results/ \
        --config configs/glean_ffhq_16x.py --checkpoint glean_ffhq_16x.pth

Detects frontal faces offline (OpenCV's Haar cascades, shipped inside
opencv-python), aligns each to the model's input (from the eyes when both
are found, else from the detection box with a margin), super-resolves it
and pastes it back with a feathered mask. The photo is enlarged by the
model's scale (bicubic) and the faces are pasted at the model's full
resolution; --keep-size pastes them into the photo at its own size instead.

Writes into OUTPUT_DIR, for PHOTO = <stem>.<ext>: <stem>_restored.png,
<stem>_face<NN>_input.png and <stem>_face<NN>_restored.png per restored
face, and <stem>_faces.json (every face found, restored or skipped and
why). Refuses to replace existing outputs unless --overwrite.

Exit status: 0 when faces were found and all were restored; 1 when no face
was found or some were skipped as too small or too large (the photo and
the report are still written); 2 for bad input, where nothing is written
(one ``error:`` line).
"""
import argparse
import os
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.apis.cli import (add_model_arguments, build_from_args,
                                   int_at_least)
from glean_plugin.cli import EXIT_OK, EXIT_PARTIAL, run_tool
from glean_plugin.faces import FEATHER, FaceLimits, restore_faces_file
from glean_plugin.faces.detect import MIN_FACE_SIZE


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('photo', help='the photo (any image OpenCV reads)')
    parser.add_argument('output_dir', help='output folder (created if needed)')
    add_model_arguments(
        parser, as_options=True,
        config_help='a GLEAN face config (square input and output, e.g. '
        'configs/glean_ffhq_16x.py)')
    parser.add_argument('--keep-size', action='store_true',
                        help='paste the faces into the photo at its size '
                        "(default: into the photo enlarged by the model's "
                        'scale, bicubic)')
    parser.add_argument('--min-face', type=int_at_least(MIN_FACE_SIZE),
                        default=MIN_FACE_SIZE,
                        help='smallest face box searched, in pixels '
                        f'(default: {MIN_FACE_SIZE})')
    parser.add_argument('--max-input-zoom', type=float,
                        default=FaceLimits.max_input_zoom,
                        help='skip faces whose crop must be enlarged more '
                        'than this to make the model input (default: '
                        f'{FaceLimits.max_input_zoom:g})')
    parser.add_argument('--max-paste-zoom', type=float,
                        default=FaceLimits.max_paste_zoom,
                        help='skip faces whose restored crop must be '
                        'enlarged more than this to cover them in the '
                        f'output (default: {FaceLimits.max_paste_zoom:g})')
    parser.add_argument('--feather', type=float, default=FEATHER,
                        help="the paste mask's ramp, a fraction of the "
                        f'crop side in (0, 0.5] (default: {FEATHER:g})')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing outputs (never the photo)')
    args = parser.parse_args()
    try:
        args.limits = FaceLimits(args.max_input_zoom, args.max_paste_zoom)
    except ValueError as err:
        parser.error(str(err))
    if not 0 < args.feather <= 0.5:
        parser.error(f'--feather must be in (0, 0.5], got {args.feather:g}')
    return args


def main() -> int:
    args = parse_args()
    generator, settings = build_from_args(args)
    done = restore_faces_file(
        generator, args.photo, args.output_dir, settings,
        keep_size=args.keep_size, overwrite=args.overwrite,
        limits=args.limits, feather=args.feather, min_face=args.min_face)
    report = done.report
    print(f"{report['found']} face(s) found in {args.photo}: "
          f"{report['restored']} restored, {report['skipped']} skipped")
    for face in report['faces']:
        x, y, w, h = face['box']
        what = (f"restored (aligned by {face['alignment']})"
                if face['status'] == 'restored' else
                f"{face['status'].replace('_', ' ')}: {face['reason']}")
        print(f"  face {face['index']}: {w}x{h} at ({x}, {y}): {what}")
    print(f'wrote {len(done.written)} file(s) to {args.output_dir}: '
          f"{report['output']} ({report['output_size'][0]}x"
          f"{report['output_size'][1]}), {2 * report['restored']} crop(s), "
          f'the report {os.path.basename(done.written[-1])}')
    if not report['found']:
        print(f'warning: no face found in {args.photo}; the output is the '
              'photo without restored faces', file=sys.stderr)
        return EXIT_PARTIAL
    if report['skipped']:
        print(f"warning: {report['skipped']} face(s) skipped (see the "
              'report)', file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


if __name__ == '__main__':
    sys.exit(run_tool(main))
