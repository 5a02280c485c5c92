"""Run one of MMagic's own scripts with the plugin in place.

``python -m glean_plugin.run_mmagic [--dropin] SCRIPT [ARGS ...]``

MMagic's scripts that import ``mmagic.apis`` or ``mmagic.models`` before they
read a config (``demo/mmagic_inference_demo.py``) stop on an mmcv without
compiled ops (``No module named 'mmcv._ext'``): the config's
``custom_imports`` come too late. Run as a module of this package,
``glean_plugin`` is imported first (see ``compat``); with ``--dropin``,
``glean_plugin.dropin`` too (MMagic's own GLEAN/StyleGAN2 configs then build
the plugin's classes). The script then runs unchanged as ``__main__`` with
its own arguments. ``SCRIPT`` is a file, or ``mmagic::`` and a path inside
the scripts that the installed ``mmagic`` ships (``mmagic/.mim/``:
``mmagic::demo/...``, ``mmagic::tools/...``). MMagic's ``tools/train.py``
and ``tools/test.py`` read the config first and need no launcher.
"""
import argparse
import importlib
import os.path as osp
import runpy
import sys
from typing import List, Optional

__all__ = ['SHIPPED_PREFIX', 'find_mmagic_script', 'main',
           'mmagic_scripts_root']

SHIPPED_PREFIX = 'mmagic::'  # as in mmengine's 'mmagic::' config paths


def mmagic_scripts_root() -> str:
    """The folder of the scripts and configs the installed mmagic ships."""
    import mmagic
    return osp.join(osp.dirname(mmagic.__file__), '.mim')


def find_mmagic_script(script: str) -> str:
    """The file ``script`` names.

    Args:
        script (str): a file path, or ``mmagic::`` and a path inside the
            scripts the installed mmagic ships (``mmagic/.mim``), e.g.
            ``mmagic::demo/mmagic_inference_demo.py``.

    Returns:
        str: the absolute path of the script.

    Raises:
        FileNotFoundError: no such file; the message names the path.
    """
    if script.startswith(SHIPPED_PREFIX):
        path = osp.join(mmagic_scripts_root(), script[len(SHIPPED_PREFIX):])
        where = f' (the installed mmagic has no {path!r})'
    else:
        path, where = osp.abspath(script), ''
    if not osp.isfile(path):
        raise FileNotFoundError(f'script not found: {script!r}{where}')
    return path


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='python -m glean_plugin.run_mmagic',
        description="Run one of MMagic's scripts (e.g. "
        'mmagic::demo/mmagic_inference_demo.py) with glean_plugin imported '
        'first.')
    parser.add_argument(
        '--dropin', action='store_true',
        help="import glean_plugin.dropin first (MMagic's GLEAN and StyleGAN2 "
        "names build the plugin's classes)")
    parser.add_argument(
        'script', help='a script file, or mmagic:: and a path inside the '
        'installed mmagic/.mim (mmagic::demo/mmagic_inference_demo.py, ...)')
    parser.add_argument('args', nargs=argparse.REMAINDER,
                        help="the script's own arguments")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    """Run ``SCRIPT ARGS`` as ``__main__`` (``sys.argv`` and ``sys.path[0]``
    as ``python SCRIPT ARGS`` sets them)."""
    args = parse_args(argv)
    path = find_mmagic_script(args.script)
    if args.dropin:
        importlib.import_module('glean_plugin.dropin')
    sys.argv = [path, *args.args]
    sys.path.insert(0, osp.dirname(path))
    runpy.run_path(path, run_name='__main__')


if __name__ == '__main__':
    from glean_plugin.cli import run_tool
    sys.exit(run_tool(main))
