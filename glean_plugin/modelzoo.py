"""The model zoo: ``configs/metafile.yml`` (MMagic's metafile format), its
checks against the configs, and README's "Model zoo" section rendered from
it (the table is never written by hand).

The metafile holds MMagic's keys (``Collections``; per model ``Name``,
``In Collection``, ``Config``, ``Results``, ``Weights``) and, under
``Metadata``, what MMagic's GLEAN metafile leaves out: the scale, the data,
the StyleGAN2 latent bank, the metric settings, the MMagic config it
corresponds to, and why there is no checkpoint (``Weights: null``).
"""
import importlib.util
import inspect
import os
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence
from urllib.parse import urlparse

import yaml

from .checkpoint import hash_suffix
from .engine.config import ConfigError
from .fileio import atomic_open

__all__ = ['ModelZooError', 'README_BEGIN', 'README_END', 'check_metafile',
           'config_facts', 'config_files', 'load_metafile', 'readme_section',
           'render_section', 'replace_readme_section', 'write_readme']

METAFILE = osp.join('configs', 'metafile.yml')
README = 'README.md'
README_BEGIN = '<!-- modelzoo:begin -->'
README_END = '<!-- modelzoo:end -->'
# MMagic's own GLEAN metafile, as the installed package ships it.
MMAGIC_METAFILE = osp.join('.mim', 'configs', 'glean', 'metafile.yml')
MODEL_KEYS = ('Name', 'In Collection', 'Config', 'Metadata', 'Results',
              'Weights')
METADATA_KEYS = ('Scale', 'Training Data', 'Test Data', 'Latent Bank',
                 'MMagic Config', 'Metric Settings')
RESULT_KEYS = ('Task', 'Dataset', 'Metrics')
# Metric arguments recorded in the metafile, for the metrics that take them
# (the others a config sets, e.g. prefix, are recorded too).
METRIC_SETTINGS = ('scaling', 'crop_border', 'input_order', 'convert_to')
# Weights and latent banks: https URLs of .pth files with OpenMMLab's
# sha256 suffix (checked when loaded, see checkpoint.check_hash_suffix).
URL_SCHEMES = ('https', )
URL_SUFFIX = '.pth'

SECTION_HEAD = """## Model zoo

Every config, as listed in [`configs/metafile.yml`](configs/metafile.yml)
(MMagic's metafile format; this section is generated from it by
`python tools/modelzoo.py --write-readme`, and `python tools/modelzoo.py
--check` checks the metafile against the configs and this section against
the metafile). Published numbers and checkpoints are MMagic's, for the
MMagic config named (its test set, RGB PSNR); the plugin's generator loads
MMagic's GLEAN checkpoints strictly. Checkpoint and bank names carry
OpenMMLab's sha256 suffix (`..._20210614-d3ac8683.pth`): loading checks the
file against it, and a truncated or wrong download is an error naming both
hashes. Offline, put the file in torch's hub cache
(`~/.cache/torch/hub/checkpoints/`) or give its local path.
"""
TABLE_HEAD = ('| config | task | scale | data (train → test) | metrics '
              '(val_evaluator) | published (MMagic) | checkpoint | latent '
              'bank |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n')


class ModelZooError(ConfigError):
    """The metafile is malformed or disagrees with the configs, or README's
    model-zoo section is missing or out of date."""


def config_files(root: str) -> List[str]:
    """Configs under ``root/configs`` (not ``_base_``), relative, sorted."""
    found = []
    configs = osp.join(root, 'configs')
    for folder, dirs, files in os.walk(configs):
        dirs[:] = sorted(d for d in dirs if d != '_base_')
        found += [osp.relpath(osp.join(folder, f), root) for f in files
                  if f.endswith('.py')]
    return sorted(p.replace(os.sep, '/') for p in found)


def load_metafile(path: str) -> Dict[str, Any]:
    """Read a metafile (``yaml.safe_load``).

    Args:
        path (str): the metafile.

    Returns:
        dict: with ``Collections`` and ``Models`` lists.

    Raises:
        ModelZooError: not a mapping with those two lists.
    """
    with open(path, encoding='utf-8') as f:
        try:
            meta = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ModelZooError(f'{path} is not valid YAML: {err}') from None
    if not isinstance(meta, dict) or not all(
            isinstance(meta.get(k), list) for k in ('Collections', 'Models')):
        raise ModelZooError(
            f'{path}: expected a mapping with "Collections" and "Models" '
            f'lists, got {type(meta).__name__} with keys '
            f'{sorted(meta) if isinstance(meta, dict) else []}')
    return meta


# --------------------------------------------------------------------------- #
# what a config says
# --------------------------------------------------------------------------- #
def _evaluator_metrics(evaluator: Any) -> List[Mapping]:
    if evaluator is None:
        return []
    if isinstance(evaluator, Mapping) and 'metrics' in evaluator:
        evaluator = evaluator['metrics']
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else [
        evaluator]


def _metric_facts(cfg: Mapping) -> Dict[str, Any]:
    """Effective settings and reported name of one evaluator entry."""
    from .registry import METRICS
    cls = METRICS.get(cfg['type'])
    if cls is None:
        raise ModelZooError(f'unknown metric type {cfg["type"]!r}')
    params = inspect.signature(cls.__init__).parameters
    settings = {'type': cfg['type']}
    for key in METRIC_SETTINGS:
        if key in params:
            settings[key] = cfg.get(key, params[key].default)
    settings.update({k: v for k, v in cfg.items() if k != 'type'})
    prefix = cfg.get('prefix') or getattr(cls, 'default_prefix', None)
    name = getattr(cls, 'metric', None) or cfg['type']
    return {'settings': settings,
            'reported': f'{prefix}/{name}' if prefix else name}


def config_facts(path: str) -> Dict[str, Any]:
    """What the metafile records about a config, read from the config.

    Args:
        path (str): the config file.

    Returns:
        dict: ``scale`` (int or None: not a super-resolution model),
        ``bank`` (the generator's ``Pretrained`` checkpoint, or None),
        ``metric_settings`` (the val_evaluator's entries with their
        effective settings) and ``reported`` (the metric names it reports).
    """
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    gen = cfg.model.get('generator', {})
    scale = None
    if gen.get('in_size') and gen.get('out_size'):
        scale = gen['out_size'] // gen['in_size']
    init = gen.get('init_cfg')
    inits = init if isinstance(init, (list, tuple)) else [init]
    banks = [i.get('checkpoint') for i in inits
             if isinstance(i, Mapping) and i.get('type') == 'Pretrained']
    metrics = [_metric_facts(m)
               for m in _evaluator_metrics(cfg.get('val_evaluator'))]
    return {'scale': scale, 'bank': banks[0] if banks else None,
            'metric_settings': [m['settings'] for m in metrics],
            'reported': [m['reported'] for m in metrics]}


# --------------------------------------------------------------------------- #
# checks
# --------------------------------------------------------------------------- #
def _url_problem(url: Any, what: str) -> Optional[str]:
    if not isinstance(url, str):
        return f'{what} must be a URL string or null, got {url!r}'
    parts = urlparse(url)
    if parts.scheme not in URL_SCHEMES or not parts.netloc or \
            not parts.path.endswith(URL_SUFFIX) or parts.query or \
            parts.fragment or ' ' in url:
        return (f'{what} {url!r} is not a well-formed URL (expected '
                f'{"/".join(URL_SCHEMES)}://host/path/name{URL_SUFFIX})')
    if hash_suffix(url) is None:
        return (f'{what} {url!r} has no sha256 suffix in its name (expected '
                f'OpenMMLab\'s ..._<date>-<8 hex digits>{URL_SUFFIX})')
    return None


def _mmagic_models() -> Dict[str, Mapping]:
    """MMagic's GLEAN metafile entries by ``Config``."""
    spec = importlib.util.find_spec('mmagic')
    if spec is None or not spec.submodule_search_locations:
        raise ModelZooError('mmagic is not installed: its GLEAN metafile '
                            'cannot be compared')
    path = osp.join(list(spec.submodule_search_locations)[0], MMAGIC_METAFILE)
    return {m['Config']: m for m in load_metafile(path)['Models']}


def _structure_problems(model: Mapping, collections: Sequence[str]
                        ) -> List[str]:
    problems = [f'missing key {k!r}' for k in MODEL_KEYS if k not in model]
    meta = model.get('Metadata') or {}
    problems += [f'Metadata: missing key {k!r}' for k in METADATA_KEYS
                 if k not in meta]
    if model.get('In Collection') not in collections:
        problems.append(f'In Collection {model.get("In Collection")!r} is '
                        f'not one of the Collections {list(collections)}')
    results = model.get('Results')
    if not isinstance(results, list) or not results:
        problems.append('Results must be a non-empty list')
        results = []
    for result in results:
        problems += [f'Results: missing key {k!r}' for k in RESULT_KEYS
                     if k not in result]
        metrics = result.get('Metrics')
        if not isinstance(metrics, Mapping) or not all(
                isinstance(v, (int, float)) for v in metrics.values()):
            problems.append(f'Results: Metrics must map names to numbers, '
                            f'got {metrics!r}')
    if model.get('Weights') is None and not meta.get('Weights Note'):
        problems.append('Weights is null: Metadata must say why '
                        '("Weights Note")')
    return problems


def _config_problems(model: Mapping, facts: Mapping) -> List[str]:
    meta = model['Metadata']
    problems = []
    if meta['Scale'] != facts['scale']:
        problems.append(f'Scale is {meta["Scale"]!r}, the config\'s '
                        f'generator upsamples {facts["scale"]!r}x')
    if meta['Latent Bank'] != facts['bank']:
        problems.append(f'Latent Bank is {meta["Latent Bank"]!r}, the '
                        f'config loads {facts["bank"]!r}')
    elif facts['bank'] is not None:
        problem = _url_problem(facts['bank'], 'Latent Bank')
        problems += [problem] if problem else []
    if meta['Metric Settings'] != facts['metric_settings']:
        problems.append(f'Metric Settings are {meta["Metric Settings"]!r}, '
                        'the config\'s val_evaluator computes '
                        f'{facts["metric_settings"]!r}')
    for result in model['Results']:
        unknown = sorted(set(result['Metrics']) - set(facts['reported']))
        if unknown:
            problems.append(f'Results name metrics {unknown} that the '
                            "config's val_evaluator does not report (it "
                            f'reports {facts["reported"]})')
    if model['Weights'] is not None:
        problem = _url_problem(model['Weights'], 'Weights')
        problems += [problem] if problem else []
    return problems


def _mmagic_problems(model: Mapping, mmagic: Mapping[str, Mapping]
                     ) -> List[str]:
    """An entry that names an MMagic config repeats MMagic's numbers and
    checkpoint exactly; one that names none publishes no checkpoint."""
    name = model['Metadata']['MMagic Config']
    if name is None:
        return [] if model['Weights'] is None else [
            'Weights given without an MMagic Config they come from']
    theirs = mmagic.get(name)
    if theirs is None:
        return [f'MMagic Config {name!r} is not in MMagic\'s GLEAN metafile '
                f'(it has {sorted(mmagic)})']
    problems = []
    if model['Weights'] != theirs.get('Weights'):
        problems.append(f'Weights {model["Weights"]!r} are not MMagic\'s '
                        f'for {name} ({theirs.get("Weights")!r})')
    ours = [(r['Dataset'], dict(r['Metrics'])) for r in model['Results']]
    published = [(r['Dataset'], dict(r['Metrics'])) for r in theirs['Results']]
    if ours != published:
        problems.append(f'Results {ours} are not MMagic\'s for {name} '
                        f'({published})')
    return problems


def check_metafile(meta: Mapping, root: str) -> None:
    """Check the metafile against the configs and MMagic's GLEAN metafile.

    Every config (not ``_base_``) has exactly one entry and every entry's
    ``Config`` exists; ``Name`` is the config's stem; scale, latent bank and
    metric settings are what the config says; result metrics are names its
    val_evaluator reports; URLs are https ``.pth`` files with OpenMMLab's
    sha256 suffix; ``Weights: null`` says why; an MMagic counterpart's
    numbers and checkpoint are copied exactly.

    Args:
        meta (Mapping): the loaded metafile.
        root (str): the repository root (``Config`` paths are relative).

    Raises:
        ModelZooError: listing every problem, one line each.
    """
    problems = []
    models = meta['Models']
    collections = [c.get('Name') for c in meta['Collections']]
    listed = [m.get('Config') for m in models]
    configs = config_files(root)
    missing = sorted(set(configs) - set(listed))
    unknown = sorted(set(listed) - set(configs))
    duplicates = sorted({c for c in listed if listed.count(c) > 1})
    problems += [f'{c}: no entry in the metafile' for c in missing]
    problems += [f'{c}: in the metafile but no such config' for c in unknown]
    problems += [f'{c}: more than one entry' for c in duplicates]
    mmagic = _mmagic_models()
    for model in models:
        config = model.get('Config')
        where = f'{config or model.get("Name")}: '
        found = _structure_problems(model, collections)
        if not found and config in configs:
            stem = osp.splitext(osp.basename(config))[0]
            if model['Name'] != stem:
                found.append(f'Name {model["Name"]!r} is not the config\'s '
                             f'name {stem!r}')
            found += _config_problems(model,
                                      config_facts(osp.join(root, config)))
            found += _mmagic_problems(model, mmagic)
        problems += [where + p for p in found]
    if problems:
        raise ModelZooError('the model zoo metafile does not match:\n  ' +
                            '\n  '.join(problems))


# --------------------------------------------------------------------------- #
# README
# --------------------------------------------------------------------------- #
def _cell(text: Any) -> str:
    return str(text).replace('|', '\\|').replace('\n', ' ')


def _metrics_text(settings: Sequence[Mapping]) -> str:
    """'MAE; PSNR, SSIM (RGB, crop 0)': metrics grouped by their settings."""
    groups: List[List] = []
    for entry in settings:
        extras = []
        if 'convert_to' in entry:
            extras.append(entry['convert_to'] or 'RGB')
        if 'crop_border' in entry:
            extras.append(f'crop {entry["crop_border"]}')
        if entry.get('scaling', 1) != 1:
            extras.append(f'x{entry["scaling"]}')
        if entry.get('prefix'):
            extras.append(f'prefix {entry["prefix"]}')
        if groups and groups[-1][1] == extras:
            groups[-1][0].append(entry['type'])
        else:
            groups.append([[entry['type']], extras])
    return '; '.join(', '.join(names) + (f' ({", ".join(extras)})'
                                         if extras else '')
                     for names, extras in groups) or '—'


def _link(url: Optional[str]) -> str:
    return f'[{osp.basename(urlparse(url).path)}]({url})' if url else '—'


def _row(model: Mapping) -> str:
    meta = model['Metadata']
    config = model['Config']
    published = '; '.join(
        ', '.join(f'{k} {v}' for k, v in r['Metrics'].items())
        for r in model['Results'] if r['Metrics']) or '—'
    if meta['MMagic Config']:
        published += f' (`{osp.basename(meta["MMagic Config"])}`)'
    weights = (_link(model['Weights']) if model['Weights'] else
               f'none: {meta["Weights Note"]}')
    data = meta['Training Data'] + (f' → {meta["Test Data"]}'
                                    if meta['Test Data'] else '')
    cells = [f'[`{model["Name"]}`]({config})', model['Results'][0]['Task'],
             f'{meta["Scale"]}x' if meta['Scale'] else '—', data,
             _metrics_text(meta['Metric Settings']), published, weights,
             _link(meta['Latent Bank'])]
    return '| ' + ' | '.join(_cell(c) for c in cells) + ' |\n'


def render_section(meta: Mapping) -> str:
    """README's model-zoo section (heading, notes, table) for a metafile."""
    return (SECTION_HEAD + '\n' + TABLE_HEAD +
            ''.join(_row(m) for m in meta['Models']))


def _marker_positions(text: str, readme: str) -> tuple:
    begins, ends = text.count(README_BEGIN), text.count(README_END)
    start, end = text.find(README_BEGIN), text.find(README_END)
    if begins != 1 or ends != 1 or end < start:
        raise ModelZooError(
            f'{readme}: expected one {README_BEGIN} line followed by one '
            f'{README_END} line around the model-zoo section, found '
            f'{begins} and {ends}' + (' (in the wrong order)'
                                      if begins == ends == 1 else ''))
    start += len(README_BEGIN)
    if text.startswith('\n', start):
        start += 1
    return start, end


def readme_section(text: str, readme: str = README) -> str:
    """The text between README's model-zoo markers."""
    start, end = _marker_positions(text, readme)
    return text[start:end]


def replace_readme_section(text: str, section: str,
                           readme: str = README) -> str:
    """``text`` with the model-zoo section replaced by ``section``."""
    start, end = _marker_positions(text, readme)
    return text[:start] + section + text[end:]


def write_readme(readme: str, meta: Mapping) -> bool:
    """Write the rendered section between README's markers (atomically).

    Args:
        readme (str): README file.
        meta (Mapping): the loaded metafile.

    Returns:
        bool: whether README changed.

    Raises:
        ModelZooError: README lacks the markers (they are not added).
    """
    with open(readme, encoding='utf-8') as f:
        text = f.read()
    new = replace_readme_section(text, render_section(meta), readme)
    if new == text:
        return False
    with atomic_open(readme, 'w') as f:
        f.write(new)
    return True
