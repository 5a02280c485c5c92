"""Identity similarity: cosine similarity of ArcFace embeddings.

MMagic has the ArcFace network only as a loss (``FaceIdLoss``), which
downloads its weights at construction; this metric reads them offline and
loads them strictly into the plugin's own ``IRSE50``.
"""
import logging
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.logging import print_log

from ..checkpoint import check_state_dict, load_state_dict_from_file
from ..models.layers.arcface import IRSE50, arcface_face_crop
from ..registry import METRICS
from .base import PairedImageMetric

__all__ = ['ARCFACE_URL', 'IdentitySimilarity', 'arcface_cache_path',
           'load_arcface_weights']

# The IR-SE50 weights MMagic's ``IDLossModel`` downloads (the same tensors as
# pSp's ``model_ir_se50.pth``); torch.hub caches them under the URL's name.
ARCFACE_URL = ('https://download.openxlab.org.cn/models/rangoliu/'
               'Arcface-IR-SE50/weight/Arcface-IR-SE50')
# Checkpoints saved before PyTorch 0.4.1 have no batch-norm counters; they do
# not affect inference, and PyTorch itself accepts them missing in old files.
_OPTIONAL_KEY_SUFFIX = 'num_batches_tracked'


def arcface_cache_path() -> str:
    """Where torch.hub caches MMagic's IR-SE50 weights (``ARCFACE_URL``)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints',
                    osp.basename(ARCFACE_URL))


def load_arcface_weights(network: IRSE50, path: str) -> None:
    """Load IR-SE50 weights strictly (missing batch-norm counters allowed).

    Args:
        network (IRSE50): the network to load into.
        path (str): weights file (``model_ir_se50.pth`` layout).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointMismatchError: the keys or shapes do not fit.
    """
    state = load_state_dict_from_file(path)
    expected = network.state_dict()
    for key, value in expected.items():
        if key.endswith(_OPTIONAL_KEY_SUFFIX):
            state.setdefault(key, value)
    check_state_dict(state, expected, 'ArcFace IR-SE50', repr(path))
    network.load_state_dict(state, strict=True)


@METRICS.register_module()
class IdentitySimilarity(PairedImageMetric):
    """Cosine similarity of ArcFace embeddings of output and ground truth.

    Identity similarity as in the GLEAN paper's CelebA-HQ table (Chan et al.,
    CVPR 2021; higher is better, GLEAN 0.9678), with the ArcFace IR-SE50 that
    MMagic's ``FaceIdLoss`` and pSp use. Each image (RGB, [-1, 1]) is cropped
    to the face box that pSp/MMagic use at 256x256 (rows 35:223, columns
    32:220), scaled proportionally for other sizes, average-pooled to
    112x112 (see ``arcface_face_crop``), and embedded; the metric is the mean
    over images of the dot product of the unit-length embeddings.
    Registered as ``'IdentitySimilarity'``.

    Args:
        arcface_path (str, optional): IR-SE50 weights (``model_ir_se50.pth``,
            MMagic's ``Arcface-IR-SE50``). Default: None, read torch.hub's
            cache, ``arcface_cache_path()``
            (``~/.cache/torch/hub/checkpoints/Arcface-IR-SE50``).
        arcface_pretrained (bool): False keeps random weights (tests only:
            the values then say nothing about identity). Default: True.
        gt_key (str): key of the ground truth. Default: 'gt_img'.
        pred_key (str): key of the prediction. Default: 'pred_img'.
        channel_order (str): channel order of the images in the data samples,
            'BGR' (MMagic's at test time) or 'RGB'. Default: 'BGR'.
        device (str | torch.device, optional): where the network runs; None
            runs it where the data lives. Default: 'cpu'.
        collect_device (str): 'cpu' or 'gpu'. Default: 'cpu'.
        prefix (str, optional): prefix of the metric name. Default: None.

    Raises:
        ValueError: unknown ``channel_order``.
        FileNotFoundError: no weights where expected.
        CheckpointMismatchError: the weights file does not fit.

    Metrics:
        - IdentitySimilarity (float): mean cosine similarity.
    """

    metric = 'IdentitySimilarity'

    def __init__(self,
                 arcface_path: Optional[str] = None,
                 arcface_pretrained: bool = True,
                 gt_key: str = 'gt_img',
                 pred_key: str = 'pred_img',
                 channel_order: str = 'BGR',
                 device: Optional[Union[str, torch.device]] = 'cpu',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(gt_key=gt_key, pred_key=pred_key,
                         channel_order=channel_order, device=device,
                         collect_device=collect_device, prefix=prefix)
        path = self._weights_file(arcface_path, arcface_pretrained)
        self.arcface = IRSE50()
        if path is not None:
            load_arcface_weights(self.arcface, path)
        self.arcface.requires_grad_(False)
        if device is not None:
            self.arcface.to(device)

    @staticmethod
    def _weights_file(path: Optional[str], pretrained: bool) -> Optional[str]:
        """The weights file to read, None for random weights."""
        if not pretrained:
            if path is not None:
                raise ValueError('arcface_path is given but '
                                 'arcface_pretrained=False')
            print_log('IdentitySimilarity: random ArcFace weights '
                      '(arcface_pretrained=False); the values say nothing '
                      'about identity', logger='current',
                      level=logging.WARNING)
            return None
        if path is None:
            path = arcface_cache_path()
            if not osp.isfile(path):
                raise FileNotFoundError(
                    'ArcFace IR-SE50 weights are not in torch.hub\'s cache: '
                    f'expected {path}. Download {ARCFACE_URL} to that path '
                    '(no download is attempted; pSp\'s model_ir_se50.pth is '
                    'the same network), or set arcface_path to a local copy.')
        return path

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """ArcFace embeddings of face images.

        Args:
            x (Tensor): (N, 3, H, W) RGB aligned faces in [-1, 1].

        Returns:
            Tensor: (N, 512) unit-length embeddings.
        """
        network = self._network_for(self.arcface, x)
        return network(arcface_face_crop(x))

    def compare(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """Identity similarity.

        Args:
            pred (Tensor): (N, 3, H, W) RGB prediction in [-1, 1].
            gt (Tensor): (N, 3, H, W) RGB ground truth in [-1, 1].

        Returns:
            Tensor: scalar, the mean cosine similarity over the N pairs.
        """
        emb_pred, emb_gt = self.embed(torch.cat((pred, gt))).chunk(2)
        return (emb_pred * emb_gt).sum(1).mean()
