"""ArcFace IR-SE50 face-recognition network and its face crop.

The network is the IR-SE50 of TreB1eN's InsightFace_Pytorch as used by pSp and
by MMagic's ``IDLossModel`` (``FaceIdLoss``): same modules, same parameter
names and shapes, so the published ``model_ir_se50.pth`` (MMagic's
``Arcface-IR-SE50``) loads into it with ``strict=True``.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['IRSE50', 'IRSEBlock', 'SqueezeExcite', 'arcface_face_crop',
           'ARCFACE_INPUT_SIZE', 'FACE_CROP_REFERENCE_SIZE', 'FACE_CROP_BOX']

# The network was trained on 112x112 aligned faces; its last linear layer
# expects the 7x7 map that four stride-2 stages leave of 112 pixels.
ARCFACE_INPUT_SIZE = 112
EMBEDDING_DIM = 512
# pSp / MMagic crop the face out of a 256x256 FFHQ-aligned image with
# rows 35:223 and columns 32:220 before pooling to 112x112.
FACE_CROP_REFERENCE_SIZE = 256
FACE_CROP_BOX = (35, 223, 32, 220)  # (top, bottom, left, right)
# (in_channels, out_channels, units) of the four IR-SE50 stages; the first
# unit of each stage has stride 2.
IRSE50_STAGES = ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3))
SE_REDUCTION = 16
# Unused in eval mode; kept so the module matches MMagic's (drop_ratio=0.6).
DROP_RATIO = 0.6


def _scaled(edge: int, size: int) -> int:
    """Round ``edge`` of the 256-pixel crop box to an image of ``size``."""
    return int(math.floor(edge * size / FACE_CROP_REFERENCE_SIZE + 0.5))


def arcface_face_crop(x: torch.Tensor,
                      out_size: int = ARCFACE_INPUT_SIZE) -> torch.Tensor:
    """Crop the face region and pool it to the ArcFace input size.

    pSp and MMagic's ``IDLossModel`` take rows 35:223 and columns 32:220 of a
    256x256 aligned face and average-pool that 188x188 box to 112x112
    (``AdaptiveAvgPool2d``). Here the box is scaled proportionally to the
    image (each edge ``round(edge * H / 256)`` or ``* W / 256``), so a
    256x256 input gives exactly MMagic's crop; for other sizes MMagic first
    average-pools the whole image to 256x256, which differs from this by
    pooling-window boundaries only. Boxes smaller than ``out_size`` are
    enlarged by the same adaptive pooling (pixel replication).

    Args:
        x (Tensor): (N, C, H, W) aligned face images.
        out_size (int): side of the output. Default: 112.

    Returns:
        Tensor: (N, C, out_size, out_size) face crops.

    Raises:
        ValueError: ``x`` is not 4-D.
    """
    if x.ndim != 4:
        raise ValueError(f'expected (N, C, H, W) images, got shape '
                         f'{tuple(x.shape)}')
    height, width = x.shape[-2:]
    top, bottom, left, right = FACE_CROP_BOX
    x = x[:, :, _scaled(top, height):_scaled(bottom, height),
          _scaled(left, width):_scaled(right, width)]
    return F.adaptive_avg_pool2d(x, out_size)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: rescale channels by a gate from their means.

    Args:
        channels (int): channels of input and output.
        reduction (int): bottleneck reduction of the gate. Default: 16.
    """

    def __init__(self, channels: int, reduction: int = SE_REDUCTION):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C, H, W). Returns: Tensor: (N, C, H, W)."""
        gate = self.fc2(F.relu(self.fc1(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


class IRSEBlock(nn.Module):
    """Improved-residual unit with squeeze-excitation (``bottleneck_IR_SE``).

    Residual: BN, 3x3 conv, PReLU, 3x3 conv (stride), BN, SE. Shortcut:
    subsampling when the channels stay, else 1x1 conv (stride) and BN.

    Args:
        in_channels (int): input channels.
        out_channels (int): output channels.
        stride (int): stride of the unit (1 or 2).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        if in_channels == out_channels:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.PReLU(out_channels),
            nn.Conv2d(out_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels), SqueezeExcite(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C_in, H, W).

        Returns: Tensor: (N, C_out, H / stride, W / stride).
        """
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSE50(nn.Module):
    """ArcFace IR-SE50: an aligned face to a unit-length 512-d embedding.

    Parameter names and shapes are those of ``model_ir_se50.pth`` (TreB1eN's
    InsightFace_Pytorch, used by pSp and MMagic's ``IDLossModel``). Kept in
    eval mode: it is a fixed feature extractor.

    Args:
        drop_ratio (float): dropout before the embedding layer (inactive in
            eval mode). Default: 0.6.
    """

    def __init__(self, drop_ratio: float = DROP_RATIO):
        super().__init__()
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
            nn.PReLU(64))
        units = []
        for in_channels, out_channels, num_units in IRSE50_STAGES:
            units.append(IRSEBlock(in_channels, out_channels, 2))
            units += [IRSEBlock(out_channels, out_channels, 1)
                      for _ in range(num_units - 1)]
        self.body = nn.Sequential(*units)
        side = ARCFACE_INPUT_SIZE // 2**len(IRSE50_STAGES)
        self.output_layer = nn.Sequential(
            nn.BatchNorm2d(EMBEDDING_DIM), nn.Dropout(drop_ratio),
            nn.Flatten(),
            nn.Linear(EMBEDDING_DIM * side * side, EMBEDDING_DIM),
            nn.BatchNorm1d(EMBEDDING_DIM))
        self.eval()

    def train(self, mode: bool = True) -> 'IRSE50':
        """Stay in eval mode (fixed batch-norm statistics, no dropout)."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed aligned faces.

        Args:
            x (Tensor): (N, 3, 112, 112) RGB faces in [-1, 1] (e.g. the output
                of ``arcface_face_crop``).

        Returns:
            Tensor: (N, 512) L2-normalised embeddings.

        Raises:
            ValueError: ``x`` is not (N, 3, 112, 112).
        """
        expected = (3, ARCFACE_INPUT_SIZE, ARCFACE_INPUT_SIZE)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f'IRSE50 expects (N, 3, {ARCFACE_INPUT_SIZE}, '
                             f'{ARCFACE_INPUT_SIZE}) input, got '
                             f'{tuple(x.shape)}')
        x = self.output_layer(self.body(self.input_layer(x)))
        return F.normalize(x, dim=1)
