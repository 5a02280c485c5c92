"""Training hooks: stop on a NaN/Inf loss, write checkpoints so that a crash
or kill never leaves a truncated one, and show what a GAN has learned
(``SampleGridHook``, ``EMACheckpointLayoutHook``).

Both are enabled in ``configs/_base_/default_runtime.py``; the tools add
``FiniteLossHook`` to a config whose ``custom_hooks`` lack it
(``engine.config.add_finite_loss_hook``). Files are written through
``glean_plugin.fileio.atomic_open``.
"""
import math
import os
import os.path as osp
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size, is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper
from torchvision.utils import make_grid

from ..fileio import partial_files, write_atomic
from ..image import MAX_VALUE, write_png_atomic
from ..registry import HOOKS

__all__ = ['ATOMIC_BACKEND', 'AtomicCheckpointHook', 'AtomicLocalBackend',
           'EMACheckpointLayoutHook', 'FiniteLossHook', 'NonFiniteLossError',
           'SampleGridHook']

# Name of the file backend that writes through a temporary file.
ATOMIC_BACKEND = 'glean_atomic_local'
# mmengine's pointer to the newest checkpoint, read by ``--resume``.
LAST_CHECKPOINT_FILE = 'last_checkpoint'
# Channel orders of the images a generator learned (SampleGridHook).
CHANNEL_ORDERS = ('rgb', 'bgr')
# Pixels between the images of a sample grid (white).
GRID_PADDING = 2
# Where MMagic's GAN models keep the EMA generator.
EMA_KEY = 'generator_ema'


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


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP-style wrapper (or the model itself)."""
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class SampleGridHook(Hook):
    """Write a grid of images from fixed latent codes at each checkpoint.

    For unconditional GANs trained with MMagic's ``BaseGAN`` models (e.g.
    ``StyleGAN2``): the same ``num_samples`` z codes (drawn once from
    ``seed``) and the generator's fixed noise buffers give every grid, so
    grids of successive checkpoints show what training changed. The EMA
    generator (``generator_ema``) is sampled when the model has one, else
    ``generator``. Grids go to ``<work_dir>/<out_dir>/iter_<n>.png`` (n is
    the 1-based iteration, as in the checkpoints' names), written through
    ``atomic_open`` by the main process.

    Args:
        interval (int, optional): iterations between grids; None (default)
            takes the ``checkpoint`` hook's interval. A grid is also written
            after the last iteration.
        num_samples (int): images in the grid. Default: 16.
        nrow (int, optional): images per row; None: the square root of
            ``num_samples``, rounded up.
        seed (int): seed of the z codes. Default: 0.
        out_dir (str): folder under the work dir. Default: 'samples'.
        channel_order (str): 'rgb' or 'bgr', the order of the training images
            (and so of the generator's output); grids are RGB PNGs.
            Default: 'rgb'.

    Raises:
        ValueError: a non-positive ``interval``, ``num_samples`` or ``nrow``,
            an unknown ``channel_order``; or, when training starts, no
            interval and no interval-based checkpoint hook, or a model
            without a ``generator``.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: Optional[int] = None,
                 num_samples: int = 16,
                 nrow: Optional[int] = None,
                 seed: int = 0,
                 out_dir: str = 'samples',
                 channel_order: str = 'rgb') -> None:
        for name, value in (('interval', interval), ('nrow', nrow),
                            ('num_samples', num_samples)):
            if value is not None and (type(value) is not int or value < 1):
                raise ValueError(f'{name} must be a positive int, got '
                                 f'{value!r}')
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}, '
                             f'got {channel_order!r}')
        self.interval = interval
        self.num_samples = num_samples
        self.nrow = nrow or math.ceil(math.sqrt(num_samples))
        self.seed = seed
        self.out_dir = out_dir
        self.channel_order = channel_order
        self._codes: Optional[torch.Tensor] = None

    def before_train(self, runner) -> None:
        """Take the checkpoint interval if needed; draw the fixed codes."""
        if self.interval is None:
            self.interval = self._checkpoint_interval(runner)
        generator = self._generator(runner.model)
        size = getattr(generator, 'noise_size', None) or getattr(
            generator, 'style_channels', None)
        if not isinstance(size, int):
            raise ValueError(
                f'{type(generator).__name__} has no noise_size or '
                'style_channels: SampleGridHook needs an unconditional '
                'generator taking (N, noise_size) codes')
        rng = torch.Generator().manual_seed(self.seed)
        self._codes = torch.randn(self.num_samples, size, generator=rng)

    @staticmethod
    def _checkpoint_interval(runner) -> int:
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                return hook.interval
        raise ValueError('SampleGridHook(interval=None) takes the interval '
                         'of an iteration-based checkpoint hook, and the '
                         'runner has none; give interval')

    @staticmethod
    def _generator(model: nn.Module) -> nn.Module:
        model = _unwrap(model)
        if getattr(model, 'generator_ema', None) is not None:
            return model.generator_ema.module  # inside the averaging wrapper
        if getattr(model, 'generator', None) is None:
            raise ValueError(f'{type(model).__name__} has no generator to '
                             'sample (SampleGridHook is for GAN models)')
        return _unwrap(model.generator)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Write a grid every ``interval`` iterations and after the last."""
        if (self.every_n_train_iters(runner, self.interval)
                or self.is_last_train_iter(runner)):
            self.write_grid(runner)

    def write_grid(self, runner) -> str:
        """Sample the fixed codes and write the grid (main process only).

        Returns:
            str: the grid's path.
        """
        path = osp.join(runner.work_dir, self.out_dir,
                        f'iter_{runner.iter + 1}.png')
        if not is_main_process():
            return path
        write_png_atomic(path, self.grid(self._generator(runner.model)))
        runner.logger.info(f'Wrote {self.num_samples} samples to {path}')
        return path

    def grid(self, generator: nn.Module) -> np.ndarray:
        """The (H, W, 3) uint8 RGB grid of ``generator``'s fixed samples.

        Args:
            generator (nn.Module): takes ``(z, randomize_noise=False)`` and
                returns (N, 3, H, W) images in [-1, 1].

        Returns:
            ndarray: (rows * (H + 2) + 2, nrow * (W + 2) + 2, 3) uint8.
        """
        if self._codes is None:
            raise RuntimeError('SampleGridHook.grid before before_train')
        was_training = generator.training
        device = next(generator.parameters()).device
        generator.eval()
        try:
            with torch.no_grad():
                imgs = generator(self._codes.to(device),
                                 randomize_noise=False)
        finally:
            generator.train(was_training)
        if self.channel_order == 'bgr':
            imgs = imgs.flip(1)
        grid = make_grid(((imgs.float().cpu() + 1) / 2).clamp(0, 1),
                         nrow=self.nrow, padding=GRID_PADDING, pad_value=1)
        return (grid.permute(1, 2, 0) * MAX_VALUE).round().to(
            torch.uint8).numpy()


@HOOKS.register_module()
class EMACheckpointLayoutHook(Hook):
    """Save the EMA generator under ``generator_ema.<key>``, as MMagic's
    model zoo does, so that GLEAN loads a trained bank with
    ``prefix='generator_ema'``.

    MMagic's GAN models keep the EMA generator in an averaging wrapper whose
    state dict reads ``generator_ema.module.<key>`` plus a step counter,
    ``generator_ema.steps``; its published StyleGAN2 checkpoints read
    ``generator_ema.<key>``. Before a checkpoint is saved this hook renames
    the keys to the published layout and moves the counter to
    ``meta['generator_ema_steps']``; when one is loaded (``--resume``,
    ``load_from``) it puts the counter back (MMagic's wrapper reads either
    layout, but without the counter it would restart the average).

    Args:
        key (str): the EMA wrapper's name in the model. Default:
            'generator_ema'.
    """

    def __init__(self, key: str = EMA_KEY) -> None:
        self.key = key

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Rename ``<key>.module.*`` to ``<key>.*``; move ``<key>.steps``."""
        state = checkpoint['state_dict']
        head = f'{self.key}.module.'
        for name in [k for k in state if k.startswith(head)]:
            state[f'{self.key}.{name[len(head):]}'] = state.pop(name)
        steps = state.pop(f'{self.key}.steps', None)
        if steps is not None:
            checkpoint.setdefault('meta', {})[self._meta_key] = int(steps)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Put the EMA step counter saved in ``meta`` back."""
        steps = checkpoint.get('meta', {}).get(self._meta_key)
        state = checkpoint.get('state_dict', {})
        if steps is not None and f'{self.key}.steps' not in state:
            state[f'{self.key}.steps'] = torch.tensor(steps)

    @property
    def _meta_key(self) -> str:
        return f'{self.key}_steps'
