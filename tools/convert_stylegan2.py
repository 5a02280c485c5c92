"""Convert rosinality's or NVIDIA's StyleGAN2 checkpoints to MMagic's layout.

Example::

    python tools/convert_stylegan2.py stylegan2-ffhq-config-f.pt \
        checkpoints/stylegan2_ffhq_1024.pth
    python tools/convert_stylegan2.py network-snapshot-025000.pkl \
        checkpoints/stylegan2_cat_256.pth --size 256

Reads rosinality's stylegan2-pytorch ``.pt`` files (``g_ema``, ``d``,
``latent_avg``) and NVIDIA's stylegan2-ada-pytorch ``.pkl`` files (``G_ema``,
``D``; neither ``torch_utils`` nor ``dnnlib`` needs to be installed) or state
dicts extracted from them. Writes ``{'state_dict': {'generator_ema.*',
'discriminator.*'}, 'meta'}``, which the configs load with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='generator_ema')``
(``prefix='discriminator'`` for the discriminator). The architecture is read
off the tensors; the options are checks. Prints the model arguments that load
the result. Refuses to replace DST unless --overwrite.
"""
import argparse
import os.path as osp
import sys

from glean_plugin.cli import run_tool
from glean_plugin.converters import (check_destination, convert_stylegan2,
                                     load_stylegan2_source, save_checkpoint)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('src', help='rosinality .pt or NVIDIA .pkl checkpoint')
    parser.add_argument('dst', help='output checkpoint (MMagic layout)')
    parser.add_argument('--size', type=int, default=None,
                        help='expected resolution (checked)')
    parser.add_argument('--channel-multiplier', type=int, default=None,
                        help='expected channel multiplier (checked; picks '
                        'it when the channel table allows several)')
    parser.add_argument('--max-channels', type=int, default=None,
                        help='expected channel cap, for small models '
                        '(checked)')
    parser.add_argument('--style-channels', type=int, default=None,
                        help='expected latent size (checked)')
    parser.add_argument('--num-mlps', type=int, default=None,
                        help='expected mapping depth (checked)')
    parser.add_argument('--lr-mlp', type=float, default=0.01,
                        help='mapping lr multiplier of the model the result '
                        'is loaded into (default: 0.01)')
    parser.add_argument('--source-lr-mlp', type=float, default=None,
                        help="the source's (default: read from NVIDIA's "
                        'pickles, else 0.01)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing DST')
    args = parser.parse_args(argv)
    for name in ('size', 'channel_multiplier', 'max_channels',
                 'style_channels', 'num_mlps'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got '
                         f'{value}')
    for name in ('lr_mlp', 'source_lr_mlp'):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f'--{name.replace("_", "-")} must be > 0, got '
                         f'{value}')
    return args


def _format_cfg(cfg: dict) -> str:
    return ', '.join(f'{k}={v!r}' for k, v in cfg.items())


def main(argv=None) -> int:
    args = parse_args(argv)
    check_destination(args.dst, args.overwrite, args.src)
    source = load_stylegan2_source(args.src)
    checkpoint = convert_stylegan2(
        source, size=args.size, channel_multiplier=args.channel_multiplier,
        max_channels=args.max_channels, style_channels=args.style_channels,
        num_mlps=args.num_mlps, lr_mlp=args.lr_mlp,
        source_lr_mlp=args.source_lr_mlp,
        source_name=osp.basename(args.src))
    save_checkpoint(checkpoint, args.dst, overwrite=args.overwrite)
    meta, state = checkpoint['meta'], checkpoint['state_dict']
    print(f'converted {meta["converted_from"]} checkpoint {args.src} -> '
          f'{args.dst} ({len(state)} tensors)')
    print('  GLEANNet / StyleGAN2LatentBank: '
          f'{_format_cfg(meta["generator_cfg"])}'
          ", init_cfg prefix 'generator_ema'")
    if 'discriminator_cfg' in meta:
        print('  GLEANDiscriminator: '
              f'{_format_cfg(meta["discriminator_cfg"])}'
              ", init_cfg prefix 'discriminator'")
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
