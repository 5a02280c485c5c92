"""The labelled image grid: the same crop from every benchmarked model."""
from typing import List, Sequence, Tuple

import numpy as np

from .model_runs import BenchmarkResult
from .paired_data import PairedData

__all__ = ['grid_rows', 'image_grid']


def grid_rows(num_images: int, rows: int) -> List[int]:
    """Indices of up to ``rows`` images spread evenly over the data."""
    if num_images < 1 or rows < 1:
        return []
    return sorted({int(i) for i in np.linspace(0, num_images - 1,
                                                min(rows, num_images))})


def image_grid(data: PairedData, results: Sequence[BenchmarkResult],
               rows: Sequence[int], crop: int = 128
               ) -> Tuple[np.ndarray, List[str]]:
    """The same crop of each row's image from every benchmarked model.

    Columns: LR (nearest-neighbour upsampled) | each result that ran, in
    order (the bicubic baseline among them) | GT. The crop is a centred
    square of side ``crop`` (at most the smallest GT side, a multiple of the
    scale), at the same place in every column.

    Args:
        data (PairedData): the pairs.
        results (Sequence[BenchmarkResult]): results keeping the outputs of
            ``rows`` (see ``keep``).
        rows (Sequence[int]): image indices, one grid row each.
        crop (int): crop side in GT pixels.

    Returns:
        tuple[ndarray, list[str]]: uint8 (len(rows) * side,
        columns * side, 3) image and the column names.

    Raises:
        ValueError: no rows, a bad crop, or a result missing a row's output.
    """
    if not rows:
        raise ValueError('the grid needs at least one row')
    shown = [r for r in results if r.ok]
    for result in shown:
        missing = [i for i in rows if i not in result.kept]
        if missing:
            raise ValueError(f'{result.name} did not keep the outputs of '
                             f'images {missing}')
    side = min([crop] + [min(data.gts[i].shape[:2]) for i in rows])
    side -= side % data.scale
    if side < data.scale:
        raise ValueError(f'crop must be at least the scale {data.scale}, got '
                         f'{crop}')
    lr_side = side // data.scale
    grid = []
    for i in rows:
        h, w = data.lrs[i].shape[:2]
        top, left = (h - lr_side) // 2, (w - lr_side) // 2
        lr = data.lrs[i][top:top + lr_side, left:left + lr_side]
        lr = lr.repeat(data.scale, axis=0).repeat(data.scale, axis=1)
        box = (slice(top * data.scale, top * data.scale + side),
               slice(left * data.scale, left * data.scale + side))
        columns = [lr] + [r.kept[i][box] for r in shown] + [data.gts[i][box]]
        grid.append(np.concatenate(columns, axis=1))
    names = ['LR (nearest)'] + [r.name for r in shown] + ['GT']
    return np.concatenate(grid, axis=0), names
