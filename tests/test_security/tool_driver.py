"""Run tools in one interpreter, one command line after another, and report
how each ended (one import of MMagic for many runs).

Usage: ``python tool_driver.py SPEC.json RESULT.json`` where SPEC is a list
of ``{"argv": [tool, arg, ...]}``. RESULT lists, per run: the exit status,
the ``error:`` lines, stdout + stderr, and whether the interpreter's state
that hostile files target (``argparse.Namespace``, HistoryBuffer's
statistics table, torch's safe globals) is unchanged afterwards.
"""
import argparse
import contextlib
import io
import json
import runpy
import sys
import time
import traceback

import torch


def _state():
    from mmengine.logging.history_buffer import HistoryBuffer
    stats = {name: getattr(method, '__qualname__', repr(method))
             for name, method in HistoryBuffer._statistics_methods.items()}
    return dict(namespace_repr=argparse.Namespace.__repr__.__qualname__,
                statistics=stats,
                safe_globals=sorted(map(repr,
                                        torch.serialization.get_safe_globals())))


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = list(argv)
    status = 0
    start = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(argv[0], run_name='__main__')
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (
                0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
        except BaseException:  # a traceback: reported as status 'crash'
            status = 'crash'
            traceback.print_exc()
    text = out.getvalue() + err.getvalue()
    return dict(argv=list(argv), status=status, output=text[-6000:],
                seconds=round(time.monotonic() - start, 2),
                errors=[line for line in err.getvalue().splitlines()
                        if line.startswith('error:')])


def main():
    spec_path, result_path = sys.argv[1:3]
    with open(spec_path) as f:
        spec = json.load(f)
    from mmengine.logging.history_buffer import HistoryBuffer

    import glean_plugin  # noqa: F401  (as the tools import it)
    HistoryBuffer()  # mmengine fills in its four statistics on first use
    before = _state()
    results = []
    for item in spec:
        result = run(item['argv'])
        result['state_unchanged'] = _state() == before
        results.append(result)
    with open(result_path, 'w') as f:
        json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
