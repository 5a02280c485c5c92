"""Reading a config for the tools: clear errors naming the file,
``--cfg-options`` with a warning for keys the config lacks, the work dir
checked before any work, and ``FiniteLossHook`` in every run."""
import logging
import os
import os.path as osp
from typing import Any, List, Mapping

from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['ConfigError', 'add_finite_loss_hook', 'check_output_dir',
           'load_tool_config', 'read_config']

# The hook every training run gets (see ``add_finite_loss_hook``).
FINITE_LOSS_HOOK = 'FiniteLossHook'


class ConfigError(ValueError):
    """A config that cannot be read or built: a syntax error, an unknown
    ``type``, an argument its class does not take."""


def read_config(path: str) -> Config:
    """``Config.fromfile`` with errors that name the file.

    Args:
        path (str): config path (or ``package::path``).

    Returns:
        Config: the config.

    Raises:
        FileNotFoundError: no such config, or a missing ``_base_`` file.
        ConfigError: the file does not run (syntax error, unknown name...).
    """
    if '::' not in path and not osp.isfile(path):
        raise FileNotFoundError(f'config not found: {path!r}')
    try:
        return Config.fromfile(path)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'config {path!r} inherits a file that is missing: {err}'
        ) from err
    except Exception as err:  # the config is Python: anything can fail
        raise ConfigError(f'cannot read config {path!r}: '
                          f'{type(err).__name__}: {err}') from err


def _new_keys(cfg: Config, options: Mapping[str, Any]) -> List[str]:
    """The first component of each ``--cfg-options`` key that the config
    does not have (``model.generatr`` of ``model.generatr.in_size``)."""
    new = []
    for key in options:
        node: Any = cfg
        parts = key.split('.')
        for i, part in enumerate(parts):
            if isinstance(node, (list, tuple)) and part.isdigit() and \
                    int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, (Mapping, Config)) and part in node:
                node = node[part]
            else:
                new.append('.'.join(parts[:i + 1]))
                break
    return new


def check_output_dir(path: str, what: str) -> None:
    """Refuse a folder that cannot be created or written, before any work.

    Args:
        path (str): the folder (need not exist).
        what (str): its name in messages, e.g. 'work dir'.

    Raises:
        FileExistsError: ``path`` is an existing file.
        PermissionError: the folder, or the nearest existing folder above
            it, is not writable.
    """
    if osp.exists(path) and not osp.isdir(path):
        raise FileExistsError(f'{what} {path!r} is a file, expected a folder')
    existing = osp.abspath(path)
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not os.access(existing, os.W_OK | os.X_OK):
        target = '' if existing == osp.abspath(path) else f' in {existing!r}'
        raise PermissionError(f'{what} {path!r}: no permission to '
                              f'write{target}')


def _hook_name(hook: Any) -> str:
    """The class name a ``custom_hooks`` entry builds ('' if unknown)."""
    kind = hook.get('type') if isinstance(hook, Mapping) else hook
    if isinstance(kind, str):
        return kind.split('.')[-1]
    return getattr(kind if isinstance(kind, type) else type(kind),
                   '__name__', '')


def add_finite_loss_hook(cfg: Config) -> bool:
    """Add ``FiniteLossHook`` to ``cfg.custom_hooks`` unless it is there.

    ``configs/_base_/default_runtime.py`` lists it, but mmengine's config
    inheritance replaces lists: a leaf that sets its own ``custom_hooks``
    would silently train without it.

    Args:
        cfg (Config): config edited in place.

    Returns:
        bool: True if the hook was added (a message says so).
    """
    hooks = list(cfg.get('custom_hooks') or ())
    if any(_hook_name(h) == FINITE_LOSS_HOOK for h in hooks):
        return False
    cfg.custom_hooks = hooks + [dict(type=FINITE_LOSS_HOOK)]
    print_log(f'custom_hooks of the config has no {FINITE_LOSS_HOOK} (a leaf '
              'that sets custom_hooks replaces the base list): added it, '
              'training stops at the first NaN/Inf loss', logger='current',
              level=logging.INFO)
    return True


def load_tool_config(config: str, launcher: str, cfg_options=None,
                     work_dir=None) -> Config:
    """Read a config and apply the arguments train/test tools share.

    ``--cfg-options`` keys the config does not have are added as mmengine
    does, with a warning naming them (a typo shows up there first).
    ``FiniteLossHook`` is added where the config lacks it
    (``add_finite_loss_hook``).

    Args:
        config (str): config path.
        launcher (str): ``--launcher``.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir``; default: the config's, or
            ``./work_dirs/<config name>``.

    Returns:
        Config: the config, ready for ``Runner.from_cfg``.

    Raises:
        FileNotFoundError, ConfigError: see ``read_config``.
        FileExistsError, PermissionError: the work dir is a file or is not
            writable.
    """
    cfg = read_config(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        new = _new_keys(cfg, cfg_options)
        if new:
            print_log(f'--cfg-options adds keys that {config} does not have:'
                      f' {", ".join(new)} (a typo?)', logger='current',
                      level=logging.WARNING)
        cfg.merge_from_dict(cfg_options)
    add_finite_loss_hook(cfg)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    check_output_dir(cfg.work_dir, 'work dir')
    return cfg
