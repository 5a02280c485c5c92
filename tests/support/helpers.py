"""Helpers shared by the tests (import as ``from helpers import ...``)."""
import contextlib
import os
import subprocess
import sys
import textwrap
from typing import Dict, Mapping, Optional

import torch

REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Keys whose default initialisation is a constant (biases at 0 or 1, noise
# weights at 0): these get noise so that every parameter matters.
RANDOMIZED_KEY_PARTS = ('bias', 'noise_injector')
RANDOMIZE_STD = 0.1


def randomize_state_dict(state: Mapping[str, torch.Tensor],
                         seed: int = 0,
                         std: float = RANDOMIZE_STD
                         ) -> Dict[str, torch.Tensor]:
    """Copy of ``state`` with ``std * randn`` added to every float tensor whose
    key contains 'bias' or 'noise_injector'.

    Other tensors (conv / linear weights, noise maps, FIR kernels) keep their
    initial values: large random weights would overflow deep networks.
    """
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in state.items():
        value = value.detach().clone()
        if value.is_floating_point() and any(p in key
                                             for p in RANDOMIZED_KEY_PARTS):
            noise = torch.randn(value.shape, generator=gen,
                                dtype=torch.float64)
            value = value + (std * noise).to(value.dtype).to(value.device)
        out[key] = value
    return out


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b||, computed in float64 on CPU."""
    a = a.detach().double().cpu()
    b = b.detach().double().cpu()
    denom = b.norm().item()
    assert denom > 0, 'reference tensor is all zeros: comparison meaningless'
    return (a - b).norm().item() / denom


def assert_rel_close(actual: torch.Tensor,
                     expected: torch.Tensor,
                     tol: float,
                     what: str = 'tensor') -> None:
    """Same shape and relative error <= tol."""
    assert tuple(actual.shape) == tuple(expected.shape), (
        f'{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}')
    err = rel_err(actual, expected)
    assert err <= tol, f'{what}: relative error {err:.3g} > {tol:g}'


def shapes(state: Mapping[str, torch.Tensor]) -> Dict[str, tuple]:
    """key -> shape of a state dict."""
    return {k: tuple(v.shape) for k, v in state.items()}


def run_python(code: str, timeout: float = 240,
               cwd: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (repo root on the path).

    Fails the calling test with the subprocess's output when it exits
    non-zero.
    """
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('PYTHONWARNINGS', 'ignore')
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          cwd=cwd or REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (
        f'subprocess failed (rc={proc.returncode})\n--- stdout ---\n'
        f'{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}')
    return proc


# The interpreter running the tests (the project's venv).
PYTHON = sys.executable


def data_options(root: str) -> list:
    """--cfg-options pointing configs/glean_demo.py at the data ``root``."""
    return [
        f'train_dataloader.dataset.data_root={root}/train',
        f'val_dataloader.dataset.data_root={root}/val',
        f'test_dataloader.dataset.data_root={root}/val',
    ]


def run_tool(args, timeout: float = 600,
             env: Optional[Mapping[str, str]] = None
             ) -> subprocess.CompletedProcess:
    """Run a command from the repository root; return the finished process."""
    # the launch scripts call ${PYTHON:-python}: use this interpreter (the
    # project's venv), which need not be first on PATH
    full_env = dict(os.environ, PYTHONWARNINGS='ignore', PYTHON=sys.executable,
                    **(env or {}))
    # one OpenMP thread per subprocess: on a busy 2-core machine threads of
    # concurrent processes otherwise fight (several times slower)
    full_env.setdefault('OMP_NUM_THREADS', '1')
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


@contextlib.contextmanager
def torch_threads(count: int):
    """Run the block with ``count`` torch CPU threads: on a shared CPU, more
    threads than free cores make each call many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
