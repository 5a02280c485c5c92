"""Running a tool of tools/ in the test process, as ``python tools/<tool>.py``
would (much faster than a subprocess: no new interpreter importing MMagic).
"""
import collections
import contextlib
import os.path as osp
import runpy
import sys
from typing import Iterator, List, Sequence, Tuple

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


@contextlib.contextmanager
def dropin_undone() -> Iterator[None]:
    """Where the block imports ``glean_plugin.dropin`` (an in-process run of
    a tool or config that imports it), take it back at the end: MMagic's
    registry names, its public names (``dropin.REBOUND``) and MMagic's
    ``Adam`` are MMagic's again and the module is no longer imported, so
    that no later test in this process depends on which tests ran before it
    (under pytest-xdist any test may run after any other)."""
    from mmagic.registry import OPTIMIZERS

    from glean_plugin.registry import restore_mmagic_models
    if 'glean_plugin.dropin' in sys.modules:
        yield
        return
    adam = OPTIMIZERS.module_dict.get('Adam')
    try:
        yield
    finally:
        dropin = sys.modules.pop('glean_plugin.dropin', None)
        if dropin is not None:
            import glean_plugin
            vars(glean_plugin).pop('dropin', None)
            for module, attr in dropin.REBOUND:
                setattr(sys.modules[module], attr,
                        dropin.MMAGIC_CLASSES[attr])
            restore_mmagic_models()
            # mmengine's Registry cannot unregister a name
            if adam is None:
                OPTIMIZERS._module_dict.pop('Adam', None)
            else:
                OPTIMIZERS.register_module(name='Adam', module=adam,
                                           force=True)
