"""VGG perceptual loss that builds offline.

MMagic's ``PerceptualLoss`` always asks torchvision to download VGG (and fails
offline, or with ``pretrained=None``); this one reads the weights from
torchvision's cache or a given file, says where to put them when they are
missing, and has an explicit random-weights mode for tests and demos.

The weights are read in ``init_weights``, as mmengine reads every pretrained
weight (``init_cfg``): the Runner calls it when training starts, and never
when testing, so testing a model (``tools/test.py``) needs no VGG file.
"""
import logging
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from mmengine.logging import print_log

from ...checkpoint import check_state_dict, load_state_dict_from_file
from ...registry import MODELS

__all__ = ['VGGPerceptualLoss', 'torchvision_vgg_cache_path']

# ImageNet statistics torchvision's VGG was trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION_PREFIX = 'torchvision://'
_VGG_WEIGHTS = {
    'vgg11': 'VGG11_Weights', 'vgg13': 'VGG13_Weights',
    'vgg16': 'VGG16_Weights', 'vgg19': 'VGG19_Weights'
}
_CRITERIA = {'mse': F.mse_loss, 'l1': F.l1_loss}


def torchvision_vgg_cache_path(vgg_type: str) -> Tuple[str, str]:
    """Where torchvision caches ``vgg_type``'s ImageNet weights; their URL."""
    weights = getattr(torchvision.models, _VGG_WEIGHTS[vgg_type]).IMAGENET1K_V1
    path = osp.join(torch.hub.get_dir(), 'checkpoints',
                    osp.basename(weights.url))
    return path, weights.url


@MODELS.register_module()
class VGGPerceptualLoss(nn.Module):
    """Distance between VGG features of output and ground truth.

    Same arguments and result as MMagic's ``PerceptualLoss`` (GLEAN uses
    VGG16 ``features[21]``, MSE, weight 1e-2), without the style term.

    Args:
        layer_weights (dict[str, float]): VGG ``features`` index -> weight;
            the feature after that module is compared.
        vgg_type (str): 'vgg11', 'vgg13', 'vgg16' or 'vgg19'. Default: 'vgg16'.
        use_input_norm (bool): normalise with ImageNet mean/std (expects
            [0, 1] input). Default: True.
        perceptual_weight (float): overall weight. Default: 1.0.
        style_weight (float): must be 0 (no style loss). Default: 0.
        norm_img (bool): map inputs from [-1, 1] to [0, 1] first.
            Default: True.
        pretrained (str, optional): 'torchvision://vgg16' (torchvision's
            cache, no download), a local weights file (torchvision layout),
            or None for random weights (explicit: for tests and demos only,
            the loss is then not perceptual). Read by ``init_weights``
            (the Runner calls it when training starts), or by the first
            ``forward`` if nothing called it before.
            Default: 'torchvision://vgg16'.
        criterion (str): 'mse' or 'l1'. Default: 'mse'.
        **unused: only MMagic's ``layer_weights_style``, accepted for config
            compatibility (there is no style term).
    """

    def __init__(self,
                 layer_weights: Dict[str, float],
                 vgg_type: str = 'vgg16',
                 use_input_norm: bool = True,
                 perceptual_weight: float = 1.0,
                 style_weight: float = 0.,
                 norm_img: bool = True,
                 pretrained: Optional[str] = 'torchvision://vgg16',
                 criterion: str = 'mse',
                 **unused) -> None:
        super().__init__()
        if vgg_type not in _VGG_WEIGHTS:
            raise ValueError(f'vgg_type must be one of {sorted(_VGG_WEIGHTS)},'
                             f' got {vgg_type!r}')
        if criterion.lower() not in _CRITERIA:
            raise ValueError(f'criterion must be one of {sorted(_CRITERIA)}, '
                             f'got {criterion!r}')
        if style_weight:
            raise ValueError('VGGPerceptualLoss has no style term; '
                             f'style_weight must be 0, got {style_weight}')
        if set(unused) - {'layer_weights_style'}:
            raise TypeError('VGGPerceptualLoss got unexpected arguments: '
                            f'{sorted(unused)}')
        if not layer_weights:
            raise ValueError('layer_weights must name at least one layer')
        features = getattr(torchvision.models, vgg_type)(weights=None).features
        last = max(int(k) for k in layer_weights)
        if last >= len(features):
            raise ValueError(
                f'{vgg_type} has {len(features)} feature layers, '
                f'layer_weights asks for index {last}')
        if (pretrained or '').startswith(TORCHVISION_PREFIX) and \
                pretrained != TORCHVISION_PREFIX + vgg_type:
            raise ValueError(f'pretrained {pretrained!r} does not match '
                             f'vgg_type {vgg_type!r}')
        self.layer_weights = {
            str(k): float(v) for k, v in layer_weights.items()}
        self.features = features[:last + 1]
        self.vgg_type = vgg_type
        self.pretrained = pretrained
        self._weights_loaded = False
        self.features.requires_grad_(False).eval()
        self.use_input_norm = use_input_norm
        self.norm_img = norm_img
        self.perceptual_weight = perceptual_weight
        self.criterion = _CRITERIA[criterion.lower()]
        for name, value in (('mean', IMAGENET_MEAN), ('std', IMAGENET_STD)):
            self.register_buffer(name, torch.tensor(value).view(1, 3, 1, 1),
                                 persistent=False)

    def init_weights(self) -> None:
        """Read the VGG weights that ``pretrained`` names (once).

        Raises:
            FileNotFoundError: the file is missing (says where to put it).
            CheckpointMismatchError: the file holds other weights.
        """
        if self._weights_loaded:
            return
        vgg_type, pretrained = self.vgg_type, self.pretrained
        if pretrained is None:
            print_log(f'VGGPerceptualLoss: random {vgg_type} weights '
                      '(pretrained=None); the loss is not perceptual',
                      logger='current', level=logging.WARNING)
            self._weights_loaded = True
            return
        if pretrained.startswith(TORCHVISION_PREFIX):
            path, url = torchvision_vgg_cache_path(vgg_type)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{vgg_type} ImageNet weights are not in torchvision\'s '
                    f'cache: expected {path}. Download {url} to that path '
                    '(no download is attempted), or set pretrained to a '
                    'local file, or pretrained=None for random weights (tests '
                    'only).')
        else:
            path = pretrained
        state = load_state_dict_from_file(path, prefix='features')
        expected = self.features.state_dict()
        # drop the layers past the last one used; any other key must match
        state = {k: v for k, v in state.items()
                 if not (k.split('.')[0].isdigit()
                         and int(k.split('.')[0]) >= len(self.features))}
        check_state_dict(state, expected, f'{vgg_type} features', repr(path))
        self.features.load_state_dict(state, strict=True)
        self._weights_loaded = True

    def train(self, mode: bool = True) -> 'VGGPerceptualLoss':
        """Keep the frozen VGG in eval mode."""
        super().train(mode)
        self.features.eval()
        return self

    def _extract(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        if self.norm_img:
            x = (x + 1.) * 0.5
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        out = {}
        for name, module in self.features.named_children():
            x = module(x)
            if name in self.layer_weights:
                out[name] = x
        return out

    def forward(self, x: torch.Tensor,
                gt: torch.Tensor) -> Tuple[torch.Tensor, None]:
        """Perceptual loss.

        Args:
            x (Tensor): (N, 3, H, W) output.
            gt (Tensor): (N, 3, H, W) ground truth (not differentiated).

        Returns:
            tuple: (scalar loss, None) — None where MMagic returns the style
            loss, so ``SRGAN`` can use it unchanged.
        """
        if x.shape != gt.shape:
            raise ValueError(f'output and ground truth shapes differ: '
                             f'{tuple(x.shape)} vs {tuple(gt.shape)}')
        self.init_weights()
        fx = self._extract(x)
        with torch.no_grad():
            fgt = self._extract(gt.detach())
        loss = sum(self.criterion(fx[k], fgt[k]) * w
                   for k, w in self.layer_weights.items())
        return loss * self.perceptual_weight, None
