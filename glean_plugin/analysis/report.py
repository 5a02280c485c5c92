"""The benchmark's report: a Markdown table with what each number means,
CSV and JSON, written atomically, never over earlier results unasked."""
import csv
import datetime
import io
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..apis.files import write_png_atomic
from ..checkpoint import format_key_list
from ..fileio import atomic_open
from ..hardware import device_name
from .measure import TimingSettings
from .model_runs import BenchmarkResult
from .paired_data import GT_FOLDER, PairedData
from .quality import NetworkMetricStatus

__all__ = ['DEFINITIONS', 'RESULT_FILES', 'BenchmarkReport', 'exit_status',
           'plan_result_files', 'short_reason', 'write_report']

# What ``write_report`` writes into the output folder.
RESULT_FILES = {
    'markdown': 'benchmark.md',
    'csv': 'benchmark.csv',
    'json': 'benchmark.json',
    'grid': 'benchmark_grid.png',
}
# Reasons longer than this are cut in the Markdown table (JSON and CSV keep
# them whole).
MAX_REASON_CHARS = 160
DEFINITIONS = {
    'psnr': 'PSNR in dB, MMagic psnr() on 8-bit RGB output vs GT, mean over '
            'images',
    'ssim': 'SSIM, MMagic ssim() on 8-bit RGB output vs GT, mean over images',
    'lpips': 'LPIPS v0.1 (lower is better), mean over images',
    'identity': 'ArcFace IR-SE50 cosine similarity of output and GT, mean '
                'over images',
    'params': 'generator parameters (buffers not counted)',
    'gflops': 'GFLOPs of one forward of one LR image: torch FlopCounterMode, '
              '2 FLOPs per multiply-accumulate of convolutions and matrix '
              'products (element-wise ops, activations, interpolation not '
              'counted)',
    'latency_ms': 'median wall time of the generator forward on one LR image '
                  '(normalisation and 8-bit conversion excluded), after '
                  'warm-up forwards; CUDA synchronised. The bicubic baseline '
                  'is MMagic\'s MATLAB-like resize in numpy on the CPU',
    'peak_memory_mib': 'peak memory PyTorch allocated during one forward of '
                       'one LR image, on top of what was allocated before it '
                       '(weights and input not counted; activations, '
                       'workspaces and output counted): CUDA '
                       'max_memory_allocated, CPU the running total of '
                       'torch.profiler allocation records',
}


def _human_count(n: Optional[int]) -> str:
    if n is None:
        return 'n/a'
    for limit, unit in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
        if n >= limit:
            return f'{n / limit:.3g} {unit}'
    return str(n)


def _fmt(value: Optional[float], spec: str) -> str:
    return 'n/a' if value is None else format(value, spec)


def short_reason(reason: str) -> str:
    """The first line of a reason, at most ``MAX_REASON_CHARS`` long."""
    line = reason.strip().split('\n', 1)[0]
    if len(line) > MAX_REASON_CHARS:
        line = line[:MAX_REASON_CHARS - 3].rstrip() + '...'
    return line


def _status_cell(row: dict) -> str:
    if row['reason'] is None:
        return row['status']
    return f"{row['status']}: {short_reason(row['reason'])}".replace('|', '/')


@dataclass
class BenchmarkReport:
    """The results with what the numbers mean, as Markdown, CSV and JSON.

    Args:
        data (PairedData): the pairs the models ran on.
        results (list[BenchmarkResult]): the rows, in order.
        device (torch.device): where the models ran.
        crop_border (int): PSNR/SSIM border crop.
        timing (TimingSettings): latency measurement.
        networks (list[NetworkMetricStatus]): LPIPS / identity status.
        grid_columns (list[str]): the grid's column names (empty: no grid).
    """

    data: PairedData
    results: List[BenchmarkResult]
    device: torch.device = torch.device('cpu')
    crop_border: int = 0
    timing: TimingSettings = TimingSettings()
    networks: List[NetworkMetricStatus] = field(default_factory=list)
    grid_columns: List[str] = field(default_factory=list)

    def _network(self, name: str) -> Optional[NetworkMetricStatus]:
        return next((s for s in self.networks if s.name == name), None)

    def _columns(self) -> List[Tuple[str, str, Callable[[dict], str]]]:
        """(key, header, formatter) of the Markdown table's columns."""
        columns = [('psnr', 'PSNR (dB)', '.2f'), ('ssim', 'SSIM', '.4f')]
        for key, header in (('lpips', 'LPIPS'), ('identity', 'ID sim')):
            status = self._network(key)
            if status is not None:
                flag = '*' if status.random else ''
                columns.append((key, header + flag, '.4f'))
        out = [(k, h, lambda row, k=k, s=s: _fmt(row[k], s))
               for k, h, s in columns]
        out += [
            ('params', 'params', lambda row: _human_count(row['params'])),
            ('gflops', 'GFLOPs/img', lambda row: _fmt(row['gflops'], '.3g')),
            ('latency_ms', 'latency (ms)',
             lambda row: _fmt(row['latency_ms'], '.3g')),
            ('peak_memory_mib', 'peak mem (MiB)',
             lambda row: _fmt(row['peak_memory_mib'], '.3g')),
            ('status', 'status', _status_cell),
        ]
        return out

    def to_markdown(self) -> str:
        """The table, a line on the data and device, and notes."""
        columns = self._columns()
        lines = [
            f'{len(self.data)} image(s) of {self.data.root} '
            f'({self.data.lr_folder} -> {GT_FOLDER}, x{self.data.scale}); '
            f'PSNR/SSIM on RGB, crop border {self.crop_border}; device '
            f'{self.device} ({device_name(self.device)}), torch '
            f'{torch.__version__}, {torch.get_num_threads()} CPU thread(s).',
            '',
            '| model | ' + ' | '.join(h for _, h, _ in columns) + ' |',
            '|---|' + '---:|' * (len(columns) - 1) + '---|',
        ]
        for result in self.results:
            row = result.summary()
            lines.append(f'| {result.name} | '
                         + ' | '.join(f(row) for _, _, f in columns) + ' |')
        lines.append('')
        for status in self.networks:
            flag = '* ' if status.random else ''
            lines.append(f'- {flag}{status.name}: {status.describe()}')
        lines += [
            f'- GFLOPs/img: {DEFINITIONS["gflops"]}.',
            f'- latency: median of {self.timing.repeats} forward(s) of one LR '
            f'image after {self.timing.warmup} warm-up one(s) '
            '(normalisation excluded); the bicubic baseline is numpy on the '
            'CPU.',
            f'- peak mem: {DEFINITIONS["peak_memory_mib"]}.',
        ]
        if self.grid_columns:
            lines.append(f'- grid ({RESULT_FILES["grid"]}): '
                         + ' | '.join(self.grid_columns) + '.')
        return '\n'.join(lines) + '\n'

    def to_csv(self) -> str:
        """One row per result, full precision, empty where not measured."""
        buffer = io.StringIO()
        rows = [r.summary() for r in self.results]
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]),
                                lineterminator='\n')
        writer.writeheader()
        for row in rows:
            writer.writerow({k: '' if v is None else v
                             for k, v in row.items()})
        return buffer.getvalue()

    def to_json(self) -> Dict[str, Any]:
        """Everything: data, settings, environment, definitions, results."""
        return dict(
            data=self.data.summary(),
            settings=dict(
                device=str(self.device), crop_border=self.crop_border,
                warmup=self.timing.warmup, repeats=self.timing.repeats,
                networks={s.name: dict(available=s.available, random=s.random,
                                       weights=s.weights, reason=s.reason)
                          for s in self.networks}),
            environment=dict(
                torch=torch.__version__, device_name=device_name(self.device),
                threads=torch.get_num_threads(),
                date=datetime.datetime.now().isoformat(timespec='seconds')),
            definitions=DEFINITIONS,
            grid=dict(file=RESULT_FILES['grid'], columns=self.grid_columns)
            if self.grid_columns else None,
            models=[_json_safe(r.to_dict()) for r in self.results])


def _json_safe(value: Any) -> Any:
    """``value`` with infinite/NaN floats (e.g. the PSNR of a perfect
    output) as the strings 'inf', '-inf', 'nan': strict JSON has no such
    numbers."""
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def plan_result_files(out_dir: str, overwrite: bool = False
                      ) -> Dict[str, str]:
    """The result paths in ``out_dir``, checked before any work.

    Args:
        out_dir (str): output folder (need not exist).
        overwrite (bool): allow replacing earlier results.

    Returns:
        dict[str, str]: ``RESULT_FILES`` keys -> paths.

    Raises:
        ValueError: ``out_dir`` is a file.
        FileExistsError: results exist and ``overwrite`` is False.
    """
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ValueError(f'output folder {out_dir!r} is a file')
    paths = {k: osp.join(out_dir, v) for k, v in RESULT_FILES.items()}
    existing = [p for p in paths.values() if osp.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f'results exist: {format_key_list(existing)}; pass overwrite '
            '(--overwrite) to replace them')
    return paths


def write_report(report: BenchmarkReport, paths: Dict[str, str],
                 grid: Optional[np.ndarray] = None) -> List[str]:
    """Write the Markdown, CSV, JSON (and grid PNG), each atomically.

    Args:
        report (BenchmarkReport): the results.
        paths (dict[str, str]): from ``plan_result_files``.
        grid (ndarray, optional): uint8 (H, W, 3) grid image.

    Returns:
        list[str]: the files written.
    """
    os.makedirs(osp.dirname(osp.abspath(paths['json'])), exist_ok=True)
    texts = dict(markdown=report.to_markdown(), csv=report.to_csv(),
                 json=json.dumps(report.to_json(), indent=2,
                                 allow_nan=False) + '\n')
    written = []
    for key, text in texts.items():
        with atomic_open(paths[key], 'w') as f:
            f.write(text)
        written.append(paths[key])
    if grid is not None:
        write_png_atomic(paths['grid'], grid)
        written.append(paths['grid'])
    return written


def exit_status(results: List[BenchmarkResult]) -> int:
    """0, or ``EXIT_PARTIAL`` when models were given and all were skipped
    (the bicubic baseline alone is a success when it is all that was
    asked for)."""
    from ..cli import EXIT_PARTIAL
    models = [r for r in results if r.config is not None]
    if models and not any(r.ok for r in models):
        return EXIT_PARTIAL
    return 0
