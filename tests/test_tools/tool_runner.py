"""Write test images, check user errors, run a tool in this process
(``run_in_process``: ``tests.support.tool_runs.run_tool_in_process``); shared
by test_infer.py and test_rectangular_tools.py.
"""
import os
import os.path as osp
from typing import Optional, Sequence

import imageio.v3 as iio

from glean_plugin import cli
from tests.support.helpers import PYTHON
from tests.support.tool_runs import \
    run_tool_in_process as run_in_process  # noqa: F401  (re-exported)

INFER = [PYTHON, 'tools/infer.py']
RETOUCH = [PYTHON, 'tools/retouch.py']


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
