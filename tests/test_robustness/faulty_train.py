"""``tools/train.py`` with a fault injected, for the robustness tests.

    python tests/test_robustness/faulty_train.py [--nan-at N]
        [--stall-save NAME --marker PATH] -- TRAIN_ARGUMENTS...

--nan-at N: before this process's N-th training iteration the generator's
    weights are set to NaN, so that the iteration's forward pass gives a
    genuine NaN loss.
--stall-save NAME: when a finished temporary file is about to be renamed
    onto a file called NAME (the last step of an atomic checkpoint write),
    create PATH and sleep instead, so that a test can kill the process in
    that window.
"""
import argparse
import os
import os.path as osp
import runpy
import sys
import time

import torch

import glean_plugin  # noqa: F401  (before mmagic: mmcv compatibility)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Long enough for any test to kill the process first.
STALL_SECONDS = 300


def _nan_at(iteration: int) -> None:
    from mmagic.models.editors.srgan import SRGAN
    train_step = SRGAN.train_step
    calls = [0]

    def poisoned(self, data, optim_wrapper):
        calls[0] += 1
        if calls[0] == iteration:
            with torch.no_grad():
                for param in self.generator.parameters():
                    param.fill_(float('nan'))
        return train_step(self, data, optim_wrapper)

    SRGAN.train_step = poisoned


def _stall_save(name: str, marker: str) -> None:
    replace = os.replace

    def stalled(src, dst, *args, **kwargs):
        if osp.basename(str(dst)) == name:
            open(marker, 'w').close()
            time.sleep(STALL_SECONDS)
        return replace(src, dst, *args, **kwargs)

    os.replace = stalled


def main() -> None:
    argv = sys.argv[1:]
    split = argv.index('--')
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--nan-at', type=int)
    parser.add_argument('--stall-save')
    parser.add_argument('--marker')
    args = parser.parse_args(argv[:split])
    if args.nan_at:
        _nan_at(args.nan_at)
    if args.stall_save:
        _stall_save(args.stall_save, args.marker)
    train = osp.join(REPO_ROOT, 'tools', 'train.py')
    sys.argv = [train] + argv[split + 1:]
    runpy.run_path(train, run_name='__main__')


if __name__ == '__main__':
    main()
