"""Residual-in-residual dense blocks (ESRGAN), GLEAN's encoder trunk."""
import torch
import torch.nn as nn

from .activation_checkpoint import checkpoint_call

__all__ = ['RRDB', 'RRDBFeatureExtractor', 'ResidualDenseBlock',
           'scaled_kaiming_init_']

# ESRGAN scales residuals by 0.2 and initialises residual convs at 0.1x
# Kaiming for stable training of deep dense blocks.
RESIDUAL_SCALE = 0.2
RESIDUAL_INIT_SCALE = 0.1
LEAKY_SLOPE = 0.2


def scaled_kaiming_init_(module: nn.Module, scale: float = 1.) -> None:
    """Kaiming-normal (fan_in) init of every conv/linear, times ``scale``.

    Args:
        module (nn.Module): module whose Conv2d/Linear layers are initialised;
            biases are set to 0.
        scale (float): multiplies the weights. Default: 1.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, a=0, mode='fan_in',
                                    nonlinearity='relu')
            m.weight.data.mul_(scale)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _add_scaled_(out: torch.Tensor, x: torch.Tensor,
                 scale: float) -> torch.Tensor:
    """``x + scale * out`` written into ``out``, a fresh activation.

    Neither step saves a tensor for autograd, so the in-place update is safe
    under autograd too; without it, one fused pass.
    """
    if torch.is_grad_enabled() and (out.requires_grad or x.requires_grad):
        return out.mul_(scale).add_(x)
    return torch.add(x, out, alpha=scale, out=out)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs with a scaled residual.

    Args:
        mid_channels (int): channels of input and output.
        growth_channels (int): channels added by each conv. Default: 32.
    """

    def __init__(self, mid_channels: int = 64, growth_channels: int = 32):
        super().__init__()
        for i in range(5):
            out_channels = mid_channels if i == 4 else growth_channels
            self.add_module(
                f'conv{i + 1}',
                nn.Conv2d(mid_channels + i * growth_channels, out_channels, 3,
                          1, 1))
        self.lrelu = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
        scaled_kaiming_init_(self, RESIDUAL_INIT_SCALE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C, H, W). Returns: Tensor: (N, C, H, W)."""
        feats = [x]
        for i in range(1, 5):
            conv = getattr(self, f'conv{i}')
            feats.append(self.lrelu(conv(torch.cat(feats, 1))))
        return _add_scaled_(self.conv5(torch.cat(feats, 1)), x,
                            RESIDUAL_SCALE)


class RRDB(nn.Module):
    """Three residual dense blocks with a scaled residual.

    Args:
        mid_channels (int): channels of input and output.
        growth_channels (int): growth of each dense block. Default: 32.
        with_cp (bool): gradient checkpointing: under autograd keep only the
            block's input and recompute the rest in the backward pass (less
            memory, about one more forward of the block). Default: False.
    """

    def __init__(self, mid_channels: int, growth_channels: int = 32,
                 with_cp: bool = False):
        super().__init__()
        self.with_cp = with_cp
        self.rdb1 = ResidualDenseBlock(mid_channels, growth_channels)
        self.rdb2 = ResidualDenseBlock(mid_channels, growth_channels)
        self.rdb3 = ResidualDenseBlock(mid_channels, growth_channels)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return _add_scaled_(self.rdb3(self.rdb2(self.rdb1(x))), x,
                            RESIDUAL_SCALE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C, H, W). Returns: Tensor: (N, C, H, W)."""
        return checkpoint_call(self._forward, x, enabled=self.with_cp)


class RRDBFeatureExtractor(nn.Module):
    """ESRGAN without its upsampler: conv, RRDB trunk, conv, long skip.

    Args:
        in_channels (int): image channels. Default: 3.
        mid_channels (int): feature channels. Default: 64.
        num_blocks (int): number of RRDBs. Default: 23.
        growth_channels (int): dense growth. Default: 32.
        with_cp (bool): gradient checkpointing of every RRDB, see ``RRDB``.
            Default: False.
    """

    def __init__(self,
                 in_channels: int = 3,
                 mid_channels: int = 64,
                 num_blocks: int = 23,
                 growth_channels: int = 32,
                 with_cp: bool = False):
        super().__init__()
        self.conv_first = nn.Conv2d(in_channels, mid_channels, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(mid_channels, growth_channels,
                                         with_cp=with_cp)
                                    for _ in range(num_blocks)))
        self.conv_body = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (N, C_img, H, W). Returns: (N, C, H, W)."""
        feat = self.conv_first(x)
        # the conv output is fresh and nothing saves it: add in place
        return self.conv_body(self.body(feat)).add_(feat)
