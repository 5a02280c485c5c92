"""Run ``tools/infer.py`` / ``tools/retouch.py`` in this process, write test
images, check user errors (shared by test_infer.py and
test_rectangular_tools.py).

Import as ``from test_tools.tool_runner import ...`` (``tests/`` is on the
path).
"""
import importlib.util
import os
import os.path as osp
import sys
from typing import Optional, Sequence, Tuple

import imageio.v3 as iio

from glean_plugin import cli
from tests.support.helpers import PYTHON, REPO_ROOT

INFER = [PYTHON, 'tools/infer.py']
RETOUCH = [PYTHON, 'tools/retouch.py']


def run_in_process(tool: str, args: Sequence, monkeypatch,
                   capsys) -> Tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``tools/<tool>.py args``."""
    path = osp.join(REPO_ROOT, 'tools', f'{tool}.py')
    spec = importlib.util.spec_from_file_location(f'tool_{tool}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', [path] + [str(a) for a in args])
    try:
        status = cli.run_tool(module.main)
    except SystemExit as exit_:  # argparse
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def write_images(folder, images, names: Optional[Sequence[str]] = None
                 ) -> str:
    """Write uint8 (H, W, C) images as ``folder/<name>`` (default
    img0.png, img1.png, ...); returns the folder."""
    os.makedirs(folder, exist_ok=True)
    names = names or [f'img{i}.png' for i in range(len(images))]
    for name, img in zip(names, images):
        iio.imwrite(osp.join(folder, name), img)
    return str(folder)


def assert_user_error(status: int, err: str, *fragments: str) -> None:
    """Exit status ``EXIT_BAD_INPUT`` (2), an ``error:`` line naming every
    fragment, no traceback."""
    assert status == cli.EXIT_BAD_INPUT, err[-3000:]
    assert 'Traceback' not in err, err[-3000:]
    assert 'error: ' in err
    for fragment in fragments:
        assert fragment in err, err[-3000:]
