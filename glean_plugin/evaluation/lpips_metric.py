"""LPIPS metric on the ``lpips`` package, with offline backbone weights.

``lpips.LPIPS`` asks torchvision to download its backbone (AlexNet, VGG16 or
SqueezeNet ImageNet weights); here the backbone is built random and loaded
from torchvision's cache or a given file, without any download. The learned
linear layers ship inside the ``lpips`` package.
"""
import logging
import os.path as osp
import warnings
from typing import Dict, Optional, Tuple, Union

import lpips
import torch
import torchvision
from mmengine.logging import print_log

from ..checkpoint import check_state_dict, load_state_dict_from_file
from ..registry import METRICS
from .base import PairedImageMetric

__all__ = ['LPIPS', 'lpips_backbone_cache_path']

# lpips net name -> torchvision weights enum of the backbone it downloads.
_BACKBONE_WEIGHTS = {
    'alex': 'AlexNet_Weights',
    'vgg': 'VGG16_Weights',
    'squeeze': 'SqueezeNet1_1_Weights',
}
# The GLEAN paper reports LPIPS v0.1 with AlexNet.
LPIPS_VERSION = '0.1'


def lpips_backbone_cache_path(net: str) -> Tuple[str, str]:
    """Where torchvision caches the backbone of LPIPS ``net``, and its URL.

    Args:
        net (str): 'alex', 'vgg' or 'squeeze'.

    Returns:
        tuple[str, str]: (path in ``torch.hub.get_dir()/checkpoints``, URL).
    """
    _check_net(net)
    weights = getattr(torchvision.models, _BACKBONE_WEIGHTS[net]).IMAGENET1K_V1
    path = osp.join(torch.hub.get_dir(), 'checkpoints',
                    osp.basename(weights.url))
    return path, weights.url


def _check_net(net: str) -> None:
    if net not in _BACKBONE_WEIGHTS:
        raise ValueError(f'net must be one of {sorted(_BACKBONE_WEIGHTS)}, '
                         f'got {net!r}')


def _backbone_keys(model: lpips.LPIPS) -> Dict[str, str]:
    """torchvision ``features`` key -> key in ``model.net``.

    lpips splits torchvision's ``features`` into ``slice1``, ``slice2``, ...
    keeping each layer's index as its name.
    """
    mapping = {}
    for slice_name, block in model.net.named_children():
        for key in block.state_dict():
            mapping[key] = f'{slice_name}.{key}'
    return mapping


@METRICS.register_module()
class LPIPS(PairedImageMetric):
    """Learned Perceptual Image Patch Similarity (Zhang et al., CVPR 2018).

    Lower is better; the GLEAN paper (Chan et al., CVPR 2021) reports LPIPS
    v0.1 with AlexNet. Computed per image by ``lpips.LPIPS`` on RGB inputs
    scaled to [-1, 1], then averaged. Registered as ``'LPIPS'``.

    Args:
        net (str): backbone, 'alex', 'vgg' or 'squeeze'. Default: 'alex'.
        backbone_path (str, optional): torchvision ImageNet weights of the
            backbone (a file with ``features.*`` keys). Default: None, read
            torchvision's cache, ``lpips_backbone_cache_path(net)[0]``
            (e.g. ``~/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth``).
        backbone_pretrained (bool): False keeps a random backbone (tests
            only: the values are then not LPIPS). Default: True.
        gt_key (str): key of the ground truth. Default: 'gt_img'.
        pred_key (str): key of the prediction. Default: 'pred_img'.
        channel_order (str): channel order of the images in the data samples,
            'BGR' (MMagic's at test time) or 'RGB'. Default: 'BGR'.
        device (str | torch.device, optional): where the network runs; None
            runs it where the data lives. Default: 'cpu'.
        collect_device (str): 'cpu' or 'gpu'. Default: 'cpu'.
        prefix (str, optional): prefix of the metric name. Default: None.

    Raises:
        ValueError: unknown ``net`` or ``channel_order``.
        FileNotFoundError: no backbone weights where expected.
        CheckpointMismatchError: the backbone file does not fit.

    Metrics:
        - LPIPS (float): mean LPIPS distance.
    """

    metric = 'LPIPS'

    def __init__(self,
                 net: str = 'alex',
                 backbone_path: Optional[str] = None,
                 backbone_pretrained: bool = True,
                 gt_key: str = 'gt_img',
                 pred_key: str = 'pred_img',
                 channel_order: str = 'BGR',
                 device: Optional[Union[str, torch.device]] = 'cpu',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        _check_net(net)
        super().__init__(gt_key=gt_key, pred_key=pred_key,
                         channel_order=channel_order, device=device,
                         collect_device=collect_device, prefix=prefix)
        self.net_type = net
        path = self._backbone_file(backbone_path, backbone_pretrained)
        with warnings.catch_warnings():
            # lpips passes torchvision the deprecated `pretrained=False`
            warnings.filterwarnings('ignore', category=UserWarning,
                                    module='torchvision')
            self.lpips_net = lpips.LPIPS(
                pretrained=True, net=net, version=LPIPS_VERSION,
                pnet_rand=True, verbose=False)
        if path is not None:
            self._load_backbone(path)
        self.lpips_net.requires_grad_(False).eval()
        if device is not None:
            self.lpips_net.to(device)

    def _backbone_file(self, path: Optional[str],
                       pretrained: bool) -> Optional[str]:
        """The backbone weights file to read, None for a random backbone."""
        if not pretrained:
            if path is not None:
                raise ValueError('backbone_path is given but '
                                 'backbone_pretrained=False')
            print_log(f'LPIPS: random {self.net_type} backbone '
                      '(backbone_pretrained=False); the values are not LPIPS',
                      logger='current', level=logging.WARNING)
            return None
        if path is None:
            path, url = lpips_backbone_cache_path(self.net_type)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'LPIPS({self.net_type!r}) backbone weights are not in '
                    f'torchvision\'s cache: expected {path}. Download {url} '
                    'to that path (no download is attempted), or set '
                    'backbone_path to a local copy.')
        return path

    def _load_backbone(self, path: str) -> None:
        """Load torchvision ``features`` weights strictly into the backbone."""
        state = load_state_dict_from_file(path, prefix='features')
        mapping = _backbone_keys(self.lpips_net)
        expected = self.lpips_net.net.state_dict()
        check_state_dict(state, {k: expected[v] for k, v in mapping.items()},
                         f'LPIPS {self.net_type} backbone (torchvision '
                         'features)', repr(path))
        self.lpips_net.net.load_state_dict(
            {mapping[k]: v for k, v in state.items()}, strict=True)

    def compare(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """LPIPS distance.

        Args:
            pred (Tensor): (N, 3, H, W) RGB prediction in [-1, 1].
            gt (Tensor): (N, 3, H, W) RGB ground truth in [-1, 1].

        Returns:
            Tensor: scalar, the mean distance over the N pairs.
        """
        network = self._network_for(self.lpips_net, pred)
        return network(pred, gt).mean()
