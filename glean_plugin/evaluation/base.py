"""Shared input handling of the network-based image-pair metrics.

Follows MMagic's ``BaseSampleWiseMetric`` (same data-sample keys, the same
hooks for MMagic's ``Evaluator`` and loops) on mmengine's ``BaseMetric``:
importing ``mmagic.evaluation`` would import all of ``mmagic.models``, which
needs compiled mmcv ops.
"""
from typing import Any, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.dist import get_world_size
from mmengine.evaluator import BaseMetric

__all__ = ['PairedImageMetric', 'CHANNEL_ORDERS']

CHANNEL_ORDERS = ('BGR', 'RGB')
# MMagic's data samples hold images as floats in [0, 255].
PIXEL_MAX = 255.


def _lookup(sample: Mapping, key: str) -> Any:
    """``sample[key]``, looked up like MMagic's ``obtain_data``.

    Nested 'data_samples' / 'data' dicts are searched as well.
    """
    for candidate in ('data_samples', key, 'data'):
        if candidate in sample:
            value = sample[candidate]
            return _lookup(value, key) if isinstance(value, Mapping) else value
    raise KeyError(f'no {key!r} in the data sample; its keys are '
                   f'{sorted(sample)}')


class PairedImageMetric(BaseMetric):
    """Per-image metric of a network applied to output and ground truth.

    Reads ``gt_img`` from each data sample and ``pred_img`` from its
    ``output``, like MMagic's PSNR ((C, H, W) or (T, C, H, W) per sample,
    values in [0, 255]); hands each pair to :meth:`compare` as
    (1, 3, H, W) RGB tensors in [-1, 1]; averages the per-image values
    (frames of a (T, C, H, W) sample first). mmengine gathers the results
    across ranks.

    Args:
        gt_key (str): key of the ground truth. Default: 'gt_img'.
        pred_key (str): key of the prediction. Default: 'pred_img'.
        channel_order (str): channel order of both images, 'BGR' or 'RGB'.
            Default: 'BGR' (MMagic's data preprocessor converts ``gt_img``
            and ``pred_img`` to BGR at test time, and its metrics assume so).
        device (str | torch.device, optional): where the network runs; None
            runs it where the data lives. Default: 'cpu'.
        collect_device (str): 'cpu' or 'gpu', for gathering results across
            ranks. Default: 'cpu'.
        prefix (str, optional): prefix of the metric name. Default: None.
    """

    # What MMagic's Evaluator groups metrics by: these read the data set's
    # samples and the model's outputs, as PSNR does.
    SAMPLER_MODE = 'normal'
    sample_model = 'orig'
    metric: str = ''  # the result's name; set by subclasses

    def __init__(self,
                 gt_key: str = 'gt_img',
                 pred_key: str = 'pred_img',
                 channel_order: str = 'BGR',
                 device: Optional[Union[str, torch.device]] = 'cpu',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        if (not isinstance(channel_order, str)
                or channel_order.upper() not in CHANNEL_ORDERS):
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}, '
                             f'got {channel_order!r}')
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.gt_key = gt_key
        self.pred_key = pred_key
        self.channel_order = channel_order.upper()
        self.device = device

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Compute the metric of each sample and keep it.

        Args:
            data_batch (Any): the batch from the data loader (unused).
            data_samples (Sequence[dict]): data samples as dicts (mmengine's
                and MMagic's evaluators convert ``DataSample``), each with
                ``gt_key`` and an ``output`` holding ``pred_key``.
        """
        for sample in data_samples:
            gt = _lookup(sample, self.gt_key)
            pred = _lookup(sample['output'], self.pred_key)
            if getattr(gt, 'ndim', 0) == 4:  # (T, C, H, W): mean of frames
                if len(pred) != len(gt):
                    raise ValueError(f'{self.pred_key} has {len(pred)} frames'
                                     f', {self.gt_key} {len(gt)}')
                value = sum(self.process_image(g, p, None)
                            for g, p in zip(gt, pred)) / len(gt)
            else:
                value = self.process_image(gt, pred, None)
            self.results.append({self.metric: value})

    def _to_network_input(self, img: Union[torch.Tensor, np.ndarray],
                          name: str) -> torch.Tensor:
        """(3, H, W) image in [0, 255] -> (1, 3, H, W) float RGB in [-1, 1]."""
        if isinstance(img, np.ndarray):
            img = torch.from_numpy(img)
        if not isinstance(img, torch.Tensor):
            raise TypeError(f'{name} must be a Tensor or ndarray, got '
                            f'{type(img).__name__}')
        if img.ndim != 3 or img.shape[0] != 3:
            raise ValueError(f'{name} must be a (3, H, W) image, got shape '
                             f'{tuple(img.shape)}')
        if self.channel_order == 'BGR':
            img = img.flip(0)
        if self.device is not None:
            img = img.to(self.device)
        return (img.float() / (PIXEL_MAX / 2) - 1).unsqueeze(0)

    def process_image(self, gt: Union[torch.Tensor, np.ndarray],
                      pred: Union[torch.Tensor, np.ndarray],
                      mask: Optional[torch.Tensor] = None) -> float:
        """Metric of one image pair.

        Args:
            gt (Tensor | ndarray): (3, H, W) ground truth in [0, 255].
            pred (Tensor | ndarray): (3, H, W) prediction in [0, 255].
            mask (Tensor, optional): unused (MMagic's signature; the whole
                image is compared).

        Returns:
            float: the metric of this pair.

        Raises:
            ValueError: the shapes differ or are not (3, H, W).
            TypeError: an image is neither a Tensor nor an ndarray.
        """
        pred = self._to_network_input(pred, self.pred_key)
        gt = self._to_network_input(gt, self.gt_key)
        if pred.shape != gt.shape:
            raise ValueError(f'{self.pred_key} and {self.gt_key} shapes '
                             f'differ: {tuple(pred.shape[1:])} vs '
                             f'{tuple(gt.shape[1:])}')
        with torch.no_grad():
            return float(self.compare(pred, gt))

    def compare(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """Metric of (1, 3, H, W) RGB pairs in [-1, 1]; returns a scalar."""
        raise NotImplementedError

    def _network_for(self, network: nn.Module, x: torch.Tensor) -> nn.Module:
        """``network``, moved to ``x``'s device if ``device`` is None."""
        if self.device is None:
            network.to(x.device)
        return network

    def compute_metrics(self, results: List[dict]) -> dict:
        """Mean of the per-sample values: ``{metric: mean}``."""
        if not results:
            raise ValueError(f'{self.metric}: no sample was processed')
        return {self.metric: sum(r[self.metric] for r in results) /
                len(results)}

    def prepare(self, module: nn.Module, dataloader: Any) -> None:
        """Called by MMagic's loops before evaluation: note the data set size.
        """
        self.size = len(dataloader.dataset)

    def get_metric_sampler(self, model: nn.Module, dataloader: Any,
                           metrics: Sequence[BaseMetric]) -> Any:
        """MMagic's loops iterate this: the data loader itself."""
        return dataloader

    def evaluate(self, size: Optional[int] = None) -> dict:
        """Average over the data set, gathered across ranks.

        Args:
            size (int, optional): data set length (mmengine's ``Evaluator``
                passes it; MMagic's loops set it in :meth:`prepare`). Without
                either, the number of processed samples (single process only).

        Returns:
            dict: ``{name: mean value}``, the name prefixed if ``prefix``.

        Raises:
            RuntimeError: no size is known in a distributed run.
        """
        if size is None:
            size = getattr(self, 'size', None)
        if size is None:
            if get_world_size() > 1:
                raise RuntimeError(
                    f'{type(self).__name__}.evaluate needs the data set size '
                    'in distributed runs: pass it, or use MMagic\'s Evaluator')
            size = len(self.results)
        return super().evaluate(size)
