"""Running a tool of tools/ in the test process, as ``python tools/<tool>.py``
would (much faster than a subprocess: no new interpreter importing MMagic).
"""
import collections
import os.path as osp
import runpy
import sys
from typing import List, Sequence, Tuple

from mmengine.utils import ManagerMixin

from tests.support.helpers import REPO_ROOT


def _manager_classes(cls) -> List[type]:
    found = []
    for sub in cls.__subclasses__():
        if '_instance_dict' in vars(sub):
            found.append(sub)
        found += _manager_classes(sub)
    return found


def isolate_mmengine_globals(monkeypatch) -> None:
    """Give mmengine's global managers (loggers, message hubs, visualizers,
    default scopes) fresh registries until the test ends."""
    for cls in _manager_classes(ManagerMixin):
        monkeypatch.setattr(cls, '_instance_dict', collections.OrderedDict())


def run_tool_in_process(tool: str, args: Sequence, monkeypatch,
                        capsys) -> Tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python tools/<tool>.py args``,
    run as ``__main__`` in this process (much faster than a subprocess; an
    uncaught exception fails the test)."""
    path = osp.join(REPO_ROOT, 'tools', f'{tool}.py')
    monkeypatch.setattr(sys, 'argv', [path] + [str(a) for a in args])
    monkeypatch.chdir(REPO_ROOT)
    # as in a new process: no logger of an earlier test writing to its
    # closed capture, no name clash between runs in the same second
    isolate_mmengine_globals(monkeypatch)
    status = 0
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as exit_:
        status = exit_.code
        if isinstance(status, str):  # sys.exit('message')
            print(status, file=sys.stderr)
            status = 1
        status = status or 0
    captured = capsys.readouterr()
    return status, captured.out, captured.err
