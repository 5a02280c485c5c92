"""Check the model zoo (configs/metafile.yml) and README's table rendered
from it.

    python tools/modelzoo.py --check         # metafile, configs, README
    python tools/modelzoo.py --write-readme  # check, render README's table

--check fails (status 2) listing every disagreement: a config without an
entry (or an entry without a config), a scale, latent bank or metric
setting that is not the config's, a metric its val_evaluator does not
report, a malformed URL, numbers that are not MMagic's, or a README section
that is not the rendering of the metafile. --write-readme rewrites only the
text between README's <!-- modelzoo:begin --> and <!-- modelzoo:end -->
lines.
"""
import argparse
import os.path as osp
import sys

import glean_plugin  # noqa: F401  (mmcv compatibility, registries)
from glean_plugin.cli import run_tool
from glean_plugin.modelzoo import (METAFILE, README, ModelZooError,
                                   check_metafile, load_metafile,
                                   readme_section, render_section,
                                   write_readme)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument('--check', action='store_true',
                        help='check the metafile and README (the default)')
    action.add_argument('--write-readme', action='store_true',
                        help="check the metafile, then write README's "
                        'model-zoo section from it')
    parser.add_argument('--root', default=ROOT,
                        help='repository root (configs/ and README.md); '
                        'default: this checkout')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    metafile = osp.join(args.root, METAFILE)
    readme = osp.join(args.root, README)
    meta = load_metafile(metafile)
    check_metafile(meta, args.root)
    print(f'{metafile}: {len(meta["Models"])} entries match the configs')
    if args.write_readme:
        changed = write_readme(readme, meta)
        print(f'{readme}: model-zoo section '
              f'{"written" if changed else "already up to date"}')
        return 0
    with open(readme, encoding='utf-8') as f:
        if readme_section(f.read(), readme) != render_section(meta):
            raise ModelZooError(
                f"{readme}: the model-zoo section is not the metafile's "
                'rendering; run python tools/modelzoo.py --write-readme '
                '(never edit the table by hand)')
    print(f'{readme}: model-zoo section up to date')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
