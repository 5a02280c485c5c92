"""Measuring models: the quality benchmark (``tools/benchmark.py``; public
entry point ``glean_plugin.apis.benchmark``) and the speed harness against
MMagic's GLEAN (``tools/analysis/benchmark_speed.py``).

One concern a module:

- ``measure``: timing, FLOPs, device synchronisation, peak memory (both
  share it);
- ``paired_data``, ``quality``, ``model_runs``, ``grid``, ``report``,
  ``benchmark_cli``: the quality benchmark;
- ``speed``, ``speed_models``, ``speed_train``, ``speed_stylegan2``,
  ``speed_memory``, ``speed_report``, ``speed_cli``: the speed harness.

Nothing is imported here: importing a module of the package imports only
what that module needs.
"""
