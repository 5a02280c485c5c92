"""Training hooks that keep work safe: stop on a NaN/Inf loss, and write
checkpoints so that a crash or kill never leaves a truncated one.

Both are enabled in ``configs/_base_/default_runtime.py``; the tools add
``FiniteLossHook`` to a config whose ``custom_hooks`` lack it
(``launch.add_finite_loss_hook``). Files are written through
``glean_plugin.fileio.atomic_open``.
"""
import math
import os
import os.path as osp
from pathlib import Path
from typing import Dict, Optional, Union

import torch
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook, Hook

from ..fileio import partial_files, write_atomic
from ..registry import HOOKS

__all__ = ['ATOMIC_BACKEND', 'AtomicCheckpointHook', 'AtomicLocalBackend',
           'FiniteLossHook', 'NonFiniteLossError']

# Name of the file backend that writes through a temporary file.
ATOMIC_BACKEND = 'glean_atomic_local'
# mmengine's pointer to the newest checkpoint, read by ``--resume``.
LAST_CHECKPOINT_FILE = 'last_checkpoint'


@register_backend(ATOMIC_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` / ``put_text``.

    mmengine's ``save_checkpoint`` writes through the file backend, and the
    local one opens the final path directly: a kill mid-write leaves a
    truncated checkpoint under the final name.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` through ``atomic_open``."""
        write_atomic(str(filepath), obj)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` through ``atomic_open``."""
        write_atomic(str(filepath), obj.encode(encoding))


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` with checkpoints that survive a kill.

    Differences from the parent, all about interruptions:

    - each checkpoint (and best checkpoint) is written to a temporary file,
      fsynced and renamed onto its name (``AtomicLocalBackend``);
    - ``last_checkpoint`` is replaced the same way, after the checkpoint;
    - the oldest checkpoint beyond ``max_keep_ckpts`` is removed only after
      the new one is complete (the parent removes it first, so with
      ``max_keep_ckpts=1`` a kill while saving left no checkpoint at all);
    - temporary files left by a killed run are removed before training.

    The best checkpoint (``save_best``) is still replaced as the parent
    does it, the old one removed first: a kill in between loses only that
    copy, never what ``--resume`` reads.

    Takes every argument of ``CheckpointHook``. With ``backend_args`` or
    ``file_client_args`` (a remote ``out_dir``), that backend is used as
    given and only the ordering above applies.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        out_dir = '' if self.out_dir is None else str(self.out_dir)
        if (self.backend_args is None and self.file_client_args is None
                and '://' not in out_dir):
            self.backend_args = dict(backend=ATOMIC_BACKEND)

    def before_train(self, runner) -> None:
        """Set up as the parent, then drop a killed run's temporary files."""
        super().before_train(runner)
        if is_main_process() and isinstance(self.file_backend,
                                            AtomicLocalBackend):
            for folder in {self.out_dir, runner.work_dir}:
                self._remove_partial_files(runner, folder)

    @staticmethod
    def _remove_partial_files(runner, folder: str) -> None:
        if not osp.isdir(folder):
            return
        for name in partial_files(folder):
            os.remove(osp.join(folder, name))
            runner.logger.info(f'Removed {name}, a checkpoint write that an '
                               'earlier run did not finish')

    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        """Save, point ``last_checkpoint`` at it, then drop the oldest."""
        stale: Optional[int] = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        write_atomic(osp.join(runner.work_dir, LAST_CHECKPOINT_FILE),
                     str(self.last_ckpt).encode('utf-8'))
        if stale is not None and stale != step:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(stale))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed checkpoints
                self.file_backend.rmtree(path)


class NonFiniteLossError(RuntimeError):
    """A training loss became NaN or Inf; training was stopped.

    Args:
        iteration (int): the 1-based iteration whose losses were not finite.
        losses (dict[str, float]): every loss of that iteration.
        last_checkpoint (str, optional): the newest checkpoint on disk.
    """

    def __init__(self, iteration: int, losses: Dict[str, float],
                 last_checkpoint: Optional[str] = None) -> None:
        self.iteration = iteration
        self.losses = dict(losses)
        self.bad = [k for k, v in losses.items() if not math.isfinite(v)]
        self.last_checkpoint = last_checkpoint
        values = ', '.join(f'{k}={v:.4g}' for k, v in losses.items())
        what = (', '.join(self.bad) if self.bad else
                'a loss of another process')
        if last_checkpoint:
            kept = (f'the last checkpoint, {last_checkpoint}, is intact: '
                    'resume from it (--resume) with a lower learning rate '
                    'or a fix for the cause')
        else:
            kept = 'no checkpoint had been saved yet'
        super().__init__(
            f'{what} became NaN or Inf at iteration '
            f'{iteration} ({values}); training stopped without saving these '
            f'weights; {kept}')


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training when a loss is NaN or Inf, before anything saves the
    broken weights.

    Runs after every training iteration, before the logger and checkpoint
    hooks (priority ABOVE_NORMAL), on every key of the model's outputs whose
    name contains 'loss'. It raises ``NonFiniteLossError`` naming the
    iteration and the losses; ``tools/train.py`` prints it as one
    ``error:`` line. In distributed training every rank stops together.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Raise ``NonFiniteLossError`` if a loss in ``outputs`` is not
        finite (on any rank)."""
        losses = self._losses(outputs)
        bad = sum(not math.isfinite(v) for v in losses.values())
        if get_world_size() > 1:
            flag = torch.tensor(float(bad))
            all_reduce(flag, op='sum')
            bad = int(flag.item())
        if not bad:
            return
        last = runner.message_hub.get_info('last_ckpt')
        raise NonFiniteLossError(runner.iter + 1, losses, last)

    @staticmethod
    def _losses(outputs: Optional[dict]) -> Dict[str, float]:
        if not outputs:
            return {}
        losses = {}
        for key, value in outputs.items():
            if 'loss' not in key:
                continue
            if isinstance(value, torch.Tensor):
                value = value.detach().float().mean().item()
            if isinstance(value, (int, float)):
                losses[key] = float(value)
        return losses
