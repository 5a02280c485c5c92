"""Make MATLAB-bicubic LR folders and a meta-info file from a GT folder.

Example (LSUN cat 8x, MMagic's layout used by configs/glean_cat_8x.py)::

    python tools/prepare_data.py path/to/cat_train_gt data/cat_train \
        --scales 8 16 --meta-file meta_info_LSUNcat_GT.txt

Refuses to overwrite existing output unless --overwrite is given.
"""
import argparse
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility)
from glean_plugin.datasets import prepare_sr_folders


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('gt_dir', help='folder of ground-truth images')
    parser.add_argument('out_root', help='output data root')
    parser.add_argument('--scales', type=int, nargs='+', default=[8])
    parser.add_argument('--meta-file', default='meta_info_GT.txt')
    parser.add_argument('--gt-folder', default='GT',
                        help="GT copy inside out_root ('' to skip the copy)")
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args()
    try:
        counts = prepare_sr_folders(args.gt_dir, args.out_root, args.scales,
                                    args.meta_file, args.gt_folder or None,
                                    args.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'\nwrote {counts} under {args.out_root}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
