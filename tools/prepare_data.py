"""Build GT and MATLAB-bicubic LR folders plus meta-info files, one command
per data set, in the layout the configs read.

    python tools/prepare_data.py cat PATH/TO/cat \\
        --list meta_info_LSUNcat_GT.txt
    python tools/prepare_data.py cat PATH/TO/CAT_03 --split test \\
        --list meta_info_Cat100_GT.txt
    python tools/prepare_data.py church PATH/TO/church_outdoor_train_lmdb
    python tools/prepare_data.py church PATH/TO/church_outdoor_val_lmdb \\
        --split test
    python tools/prepare_data.py ffhq PATH/TO/images1024x1024
    python tools/prepare_data.py celebahq PATH/TO/CelebA-HQ-1024
    python tools/prepare_data.py folder GT_DIR OUT_ROOT --scales 8 16 \\
        --meta-file meta_info_GT.txt

OUT_ROOT defaults to the configs' data_root (data/cat_train, ...). The old
form ``prepare_data.py GT_DIR OUT_ROOT [--scales ...]`` still means
``folder``. Existing output is kept unless --overwrite; an interrupted run
keeps its complete images and writes no meta-info file: rerun with --resume.
A source image that cannot be read (truncated, corrupt, 32-bit) or fitted is
skipped and reported, the others are written, and the meta-info file waits
until the set is complete (fix or remove those images, then --resume).
Grayscale, palette, RGBA (alpha dropped) and 16-bit images are converted to
8-bit RGB as the configs' loader reads them.

Exit status: 0; 1 if some images were skipped (the others were written);
2 for bad input, where nothing is written.
"""
import argparse
import sys
from dataclasses import replace

import glean_plugin  # noqa: F401  (mmcv compatibility)
from glean_plugin.cli import run_tool
from glean_plugin.datasets import (FIT_MODES, PRESETS, get_preset,
                                   prepare_dataset)


def _add_common(parser: argparse.ArgumentParser, dataset: str) -> None:
    splits = PRESETS[dataset]
    default = get_preset(dataset)
    parser.add_argument('src', help=f'source: {default.source}')
    if default.data_root:
        parser.add_argument(
            'out_root', nargs='?', default=None,
            help='output data root (default: the split\'s config data_root: '
            + ', '.join(f'{k}: {p.data_root}' for k, p in splits.items())
            + ')')
        parser.add_argument('--split', choices=list(splits),
                            default=next(iter(splits)))
    else:
        parser.add_argument('out_root', help='output data root')
    parser.add_argument(
        '--list', dest='list_file', metavar='FILE',
        help='take only the images this file names, one a line (a meta-info '
        'file works)' + (' (required for --split test)'
                         if any(p.list_required
                                for p in splits.values()) else ''))
    parser.add_argument('--scales', type=int, nargs='+',
                        help=f'LR factors (default {list(default.scales)})')
    parser.add_argument('--size', type=int,
                        help=f'GT side (default {default.size or "keep"}; '
                        'the configs expect the default)')
    parser.add_argument('--fit', choices=FIT_MODES,
                        help=f'images not size x size: refuse (exact), '
                        f'resize, or centre-crop then resize (default '
                        f'{default.fit})')
    parser.add_argument('--limit', type=int,
                        help='take only the first N images (default '
                        f'{default.limit or "all"})')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing output')
    parser.add_argument('--resume', action='store_true',
                        help='finish an interrupted run')
    parser.add_argument('--num-workers', type=int, default=1,
                        help='processes (default 1)')
    parser.add_argument('--link', action='store_true',
                        help='hard-link GT PNGs that need no change instead '
                        'of copying them')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    sub = parser.add_subparsers(dest='dataset', required=True)
    for dataset in PRESETS:
        preset = get_preset(dataset)
        p = sub.add_parser(dataset, help=preset.source)
        _add_common(p, dataset)
        if dataset == 'folder':
            p.add_argument('--meta-file', default=preset.meta_file)
            p.add_argument('--gt-folder', default=preset.gt_folder,
                           help="GT copy inside out_root ('' to leave the "
                           'GT where it is)')
            p.add_argument('--recursive', action='store_true',
                           help='also take images in sub-folders')
    return parser


def _preset(args: argparse.Namespace):
    preset = get_preset(args.dataset, getattr(args, 'split', None))
    changes = {
        key: getattr(args, key)
        for key in ('scales', 'size', 'fit', 'limit')
        if getattr(args, key) is not None
    }
    if 'scales' in changes:
        changes['scales'] = tuple(changes['scales'])
    if args.dataset == 'folder':
        changes.update(meta_file=args.meta_file,
                       gt_folder=args.gt_folder or None,
                       recursive=args.recursive)
    return replace(preset, **changes)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith('-') and argv[0] not in PRESETS:
        argv.insert(0, 'folder')  # the old form: GT_DIR OUT_ROOT [...]
    args = build_parser().parse_args(argv)
    preset = _preset(args)
    counts = prepare_dataset(preset, args.src, args.out_root,
                             args.list_file, args.overwrite, args.resume,
                             args.num_workers, args.link)
    print(f'wrote {counts} under {args.out_root or preset.data_root}')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
