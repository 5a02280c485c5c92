"""Two CPU trainings of the demo config with the same seed log the same
losses."""
import pytest

from tests.test_robustness.robustness_tools import (LOSS_KEYS, PYTHON,
                                                    read_scalars, start,
                                                    train_args, train_records)

ITERS = 3


@pytest.mark.slow
def test_same_seed_gives_the_same_losses(tmp_path, tiny_data):
    runs = []
    for i in range(2):  # side by side: half the wall time
        work, log = str(tmp_path / f'run{i}'), str(tmp_path / f'run{i}.log')
        runs.append((work, log, start([PYTHON, 'tools/train.py', *train_args(
            work, tiny_data, ITERS, 'randomness.seed=3')], log)))
    losses = []
    for work, log, proc in runs:
        assert proc.wait(timeout=300) == 0, open(log).read()[-3000:]
        records = train_records(read_scalars(work))
        assert [r['step'] for r in records] == list(range(1, ITERS + 1))
        losses.append([[r[k] for k in LOSS_KEYS] for r in records])
    assert losses[0] == losses[1]
    # the losses change from step to step: the runs really trained
    assert losses[0][0] != losses[0][-1]
