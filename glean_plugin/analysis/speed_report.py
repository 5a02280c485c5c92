"""The speed harness's report as Markdown tables (what the tool prints)."""
from typing import List

__all__ = ['format_report']


def _size(r: dict) -> str:
    return f"{r['in_size']}x{r['out_size']}"


def _header(columns: List[str], extra: List[str],
            numeric_from: int) -> List[str]:
    """A Markdown table header, right-aligned from ``numeric_from`` on."""
    columns = columns + extra
    return ['| ' + ' | '.join(columns) + ' |',
            '|' + ''.join('---|' if i < numeric_from else '---:|'
                          for i in range(len(columns)))]


STYLEGAN2_KIND_NAMES = {'plain': 'plain', 'r1': 'R1',
                        'path_length': 'path length',
                        'r1+path_length': 'R1 + path length'}


def _stylegan2_lines(r: dict, out: List[str]) -> None:
    """The StyleGAN2 iteration table."""
    a = r['amortised']
    out.append(f"\nStyleGAN2 training iteration "
               f"({r['out_size']}x{r['out_size']}, "
               f"channels capped at {r['max_channels']}, batch {r['batch']}; "
               "MMagic's StyleGAN2.train_step on its networks and on ours):\n")
    out += _header(['iteration', 'MMagic s/iter (min)', 'ours s/iter (min)',
                   'ratio', 'paired ratio'], [], numeric_from=1)
    for kind, k in r['kinds'].items():
        m, o = k['mmagic'], k['ours']
        out.append(f'| {STYLEGAN2_KIND_NAMES[kind]} '
                   f"| {m['median_s']:.3f} ({m['min_s']:.3f}) "
                   f"| {o['median_s']:.3f} ({o['min_s']:.3f}) "
                   f"| {k['ratio_of_medians']:.3f} "
                   f"| {k['paired_ratio_median']:.3f} |")
    iv = a['intervals']
    out.append(f"| amortised (R1 every {iv['r1']}, path length every "
               f"{iv['path_length']}) | {a['mmagic_s']:.3f} "
               f"| {a['ours_s']:.3f} "
               f"| {a['ratio']:.3f} | |")


def format_report(report: dict) -> str:
    """The machine line and the Markdown tables of ``report`` (from
    ``speed.run_speed_benchmark``), as printed."""
    out = []
    m = report['machine']
    load = '/'.join(f'{x:.2f}' for x in m['load_average'])
    load_end = '/'.join(f'{x:.2f}' for x in m['load_average_end'])
    out.append(f"\ntorch {m['torch']}, {m['device']}, {m['threads']} threads, "
               f"{m['date']}, load average (1/5/15 min) {load} at the start, "
               f"{load_end} at the end; options: {m['options']}\n")
    for note in report['notes']:
        out.append(f'- {note}')
    fwd, ref = report.get('forward'), report.get('reference_conv')
    if fwd:
        out.append('\nInference (forward):\n')
        out.append('| size | batch | MMagic s (min) | ours s (min) | ratio '
                   '| paired ratio | MMagic img/s | ours img/s | page faults '
                   'MMagic / ours |')
        out.append('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
        for r in fwd:
            a, o, f = r['mmagic'], r['ours'], r['minor_faults']
            out.append(f"| {_size(r)} | {r['batch']} "
                       f"| {a['median_s']:.3f} ({a['min_s']:.3f}) "
                       f"| {o['median_s']:.3f} ({o['min_s']:.3f}) "
                       f"| {r['ratio_of_medians']:.3f} "
                       f"| {r['paired_ratio_median']:.3f} "
                       f"| {a['items_per_s']:.2f} | {o['items_per_s']:.2f} "
                       f"| {f['mmagic'] / 1e3:.0f}k "
                       f"/ {f['ours'] / 1e3:.0f}k |")
        out.append(f"\n3x3 conv {ref['shape'][1]}->{ref['shape'][1]} ch at "
                   f"{ref['shape'][2]}x{ref['shape'][3]}, batch "
                   f"{ref['shape'][0]}: {ref['gflop']:.2f} GFLOP in "
                   f"{ref['median_s']:.3f} s = "
                   f"{ref['gflops_per_s']:.1f} GFLOP/s ({ref['format']}, "
                   "the faster layout: the practical limit)\n")
        out.append('| size | batch | ours GFLOP | ours GFLOP/s | MMagic GFLOP '
                   '| MMagic GFLOP/s | ours GFLOP/s / 3x3 conv GFLOP/s |')
        out.append('|---|---:|---:|---:|---:|---:|---:|')
        for r in fwd:
            a, o = r['mmagic'], r['ours']
            out.append(f"| {_size(r)} | {r['batch']} "
                       f"| {o['gflop']:.2f} | {o['gflops_per_s']:.1f} "
                       f"| {a['gflop']:.2f} | {a['gflops_per_s']:.1f} "
                       f"| {o['gflops_per_s'] / ref['gflops_per_s']:.2f} |")
    train = report.get('train')
    if train:
        cp = 'cp' in train[0]
        out.append('\nTraining iteration (generator + discriminator step):\n')
        out += _header(['size', 'batch', 'MMagic s/iter (min)',
                       'ours s/iter (min)', 'ratio', 'paired ratio'],
                      ['ours+cp s/iter', 'ratio'] if cp else [],
                      numeric_from=1)
        for r in train:
            a, o = r['mmagic'], r['ours']
            line = (f"| {_size(r)} | {r['batch']} "
                    f"| {a['median_s']:.2f} ({a['min_s']:.2f}) "
                    f"| {o['median_s']:.2f} ({o['min_s']:.2f}) "
                    f"| {r['ratio_of_medians']:.3f} "
                    f"| {r['paired_ratio_median']:.3f} |")
            if cp:
                line += (f" {r['ours+cp']['median_s']:.2f} "
                         f"| {r['cp']['ratio_of_medians']:.3f} |")
            out.append(line)
    if 'stylegan2' in report:
        _stylegan2_lines(report['stylegan2'], out)
    memory = report.get('memory')
    if memory:
        cp = any('ours+cp' in r for r in memory)
        unit = 'MiB allocated' if m['device'].startswith('cuda') else \
            'MiB RSS'
        out.append(f'\nPeak memory of one call ({unit}; rise over the memory '
                   'held before it, in parentheses):\n')
        out += _header(['size', 'call', 'batch', 'MMagic', 'ours',
                       'ratio of rises'],
                      ['ours+cp', 'ratio of rises'] if cp else [],
                      numeric_from=2)
        for r in memory:
            a, o = r['mmagic'], r['ours']
            line = (f"| {_size(r)} | {r['mode']} | {r['batch']} "
                    f"| {a['peak_mib']:.0f} ({a['rise_mib']:.0f}) "
                    f"| {o['peak_mib']:.0f} ({o['rise_mib']:.0f}) "
                    f"| {o['rise_mib'] / a['rise_mib']:.2f} |")
            if 'ours+cp' in r:
                c = r['ours+cp']
                line += (f" {c['peak_mib']:.0f} ({c['rise_mib']:.0f}) "
                         f"| {c['rise_mib'] / a['rise_mib']:.2f} |")
            elif cp:
                line += ' | |'
            out.append(line)
    return '\n'.join(out)
