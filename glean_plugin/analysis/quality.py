"""Image quality of outputs against ground truth: PSNR and SSIM (MMagic's
functions), LPIPS and identity similarity (this plugin's metrics, where
their weights are there)."""
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..apis.inference import format_shape

__all__ = ['QUALITY_KEYS', 'ImageQuality', 'NetworkMetricStatus',
           'build_identity', 'build_lpips', 'describe_error']

# Random metric weights (test mode) are drawn from this seed, so that runs
# can be compared.
RANDOM_WEIGHTS_SEED = 0
QUALITY_KEYS = ('psnr', 'ssim', 'lpips', 'identity')


def describe_error(err: BaseException) -> str:
    """'TypeName: message' of an exception, for a report row."""
    return f'{type(err).__name__}: {err}'


@dataclass(frozen=True)
class NetworkMetricStatus:
    """Whether a network metric (LPIPS, identity) was computed, and how.

    Args:
        name (str): 'lpips' or 'identity'.
        available (bool): computed.
        random (bool): with random weights (a test mode: not the metric).
        weights (str, optional): the weights file used.
        reason (str, optional): why it is unavailable.
    """

    name: str
    available: bool
    random: bool = False
    weights: Optional[str] = None
    reason: Optional[str] = None

    def describe(self) -> str:
        """One line for reports."""
        if not self.available:
            return f'unavailable: {self.reason}'
        if self.random:
            return ('RANDOM weights (test mode): the values are not the '
                    'metric')
        return f'weights {self.weights}'


def _build_network_metric(cls, name: str, path_key: str, pretrained_key: str,
                          path: Optional[str], random: bool,
                          device: Optional[Union[str, torch.device]],
                          default_path: Callable[[], str], expected: str,
                          **kwargs):
    if random and path is not None:
        raise ValueError(f'{name}: give weights or ask for random ones, not '
                         'both')
    options = {path_key: path, pretrained_key: not random}
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            metric = cls(channel_order='RGB', device=device, **options,
                         **kwargs)
    except FileNotFoundError as err:
        if random:
            raise
        if path is not None:
            raise FileNotFoundError(
                f'{name} weights not found: {path!r}; expected {expected} '
                'there (download it to that path, or give another)') from err
        return None, NetworkMetricStatus(name, False, reason=str(err))
    weights = None if random else (path or default_path())
    return metric, NetworkMetricStatus(name, True, random, weights)


def build_lpips(device: Optional[Union[str, torch.device]] = 'cpu',
                backbone_path: Optional[str] = None,
                random: bool = False,
                net: str = 'alex'):
    """This plugin's ``LPIPS`` metric, or why it cannot be built.

    Args:
        device (str | torch.device, optional): where the network runs.
        backbone_path (str, optional): torchvision backbone weights; None
            reads torchvision's cache.
        random (bool): random backbone (tests only), seeded with
            ``RANDOM_WEIGHTS_SEED``.
        net (str): 'alex', 'vgg' or 'squeeze'.

    Returns:
        tuple[LPIPS | None, NetworkMetricStatus]: the metric (None when the
        cached weights are missing) and its status.

    Raises:
        FileNotFoundError: ``backbone_path`` does not exist.
        CheckpointMismatchError: the weights do not fit.
        ValueError: both ``backbone_path`` and ``random``.
    """
    from ..evaluation.lpips_metric import LPIPS, lpips_backbone_cache_path
    cached, url = lpips_backbone_cache_path(net)
    return _build_network_metric(
        LPIPS, 'lpips', 'backbone_path', 'backbone_pretrained', backbone_path,
        random, device, lambda: cached,
        f"torchvision's ImageNet weights of the {net} backbone, {url}",
        net=net)


def build_identity(device: Optional[Union[str, torch.device]] = 'cpu',
                   arcface_path: Optional[str] = None,
                   random: bool = False):
    """This plugin's ``IdentitySimilarity`` metric, or why it cannot be built.

    Args:
        device (str | torch.device, optional): where the network runs.
        arcface_path (str, optional): IR-SE50 weights; None reads torch.hub's
            cache.
        random (bool): random weights (tests only), seeded with
            ``RANDOM_WEIGHTS_SEED``.

    Returns:
        tuple[IdentitySimilarity | None, NetworkMetricStatus]: see
        ``build_lpips``.

    Raises:
        FileNotFoundError: ``arcface_path`` does not exist.
        CheckpointMismatchError: the weights do not fit.
        ValueError: both ``arcface_path`` and ``random``.
    """
    from ..evaluation.identity import (ARCFACE_URL, IdentitySimilarity,
                                       arcface_cache_path)
    return _build_network_metric(
        IdentitySimilarity, 'identity', 'arcface_path', 'arcface_pretrained',
        arcface_path, random, device, arcface_cache_path,
        f'the ArcFace IR-SE50 weights, {ARCFACE_URL}')


class ImageQuality:
    """Per-image PSNR and SSIM (MMagic's functions), LPIPS and identity.

    Args:
        crop_border (int): pixels cropped from each edge for PSNR and SSIM
            (MMagic's ``crop_border``). Default: 0.
        lpips (LPIPS, optional): from ``build_lpips``; None: not computed.
        identity (IdentitySimilarity, optional): from ``build_identity``.
    """

    def __init__(self, crop_border: int = 0, lpips=None,
                 identity=None) -> None:
        if not isinstance(crop_border, int) or crop_border < 0:
            raise ValueError(f'crop_border must be an int >= 0, got '
                             f'{crop_border!r}')
        self.crop_border = crop_border
        self.networks = {k: m for k, m in (('lpips', lpips),
                                           ('identity', identity))
                         if m is not None}

    def drop_failing_networks(self, images: Sequence[np.ndarray]
                              ) -> Dict[str, str]:
        """Try each network metric on the smallest image; drop those that
        fail (e.g. LPIPS' AlexNet on images under about 32 pixels).

        Args:
            images (Sequence[ndarray]): uint8 (H, W, 3) images, e.g. the GT.

        Returns:
            dict[str, str]: name -> why, for each metric dropped.
        """
        smallest = min(images, key=lambda img: img.shape[0] * img.shape[1])
        chw = np.ascontiguousarray(smallest.transpose(2, 0, 1))
        dropped = {}
        for key, metric in list(self.networks.items()):
            try:
                metric.process_image(chw, chw)
            except (RuntimeError, ValueError) as err:
                del self.networks[key]
                dropped[key] = (f'fails on a {format_shape(smallest.shape)} '
                                f'image: {describe_error(err)}')
        return dropped

    @property
    def keys(self) -> Tuple[str, ...]:
        """The metrics computed, in ``QUALITY_KEYS`` order."""
        return tuple(k for k in QUALITY_KEYS
                     if k in ('psnr', 'ssim') or k in self.networks)

    def __call__(self, pred: np.ndarray, gt: np.ndarray) -> Dict[str, float]:
        """Metrics of one image pair.

        Args:
            pred (ndarray): uint8 (H, W, 3) RGB output.
            gt (ndarray): uint8 (H, W, 3) RGB ground truth.

        Returns:
            dict[str, float]: one value per key of ``keys``.
        """
        from mmagic.evaluation.metrics.psnr import psnr
        from mmagic.evaluation.metrics.ssim import ssim
        values = dict(psnr=float(psnr(pred, gt, self.crop_border)),
                      ssim=float(ssim(pred, gt, self.crop_border)))
        pred_chw = np.ascontiguousarray(pred.transpose(2, 0, 1))
        gt_chw = np.ascontiguousarray(gt.transpose(2, 0, 1))
        for key, metric in self.networks.items():
            values[key] = metric.process_image(gt_chw, pred_chw)
        return values
