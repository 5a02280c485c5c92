"""Super-resolve a photo that ships with scikit-image with GLEAN (cat 8x).

Builds the cat 8x GLEAN backbone (32 -> 256, MMagic's architecture), loads
weights when given, and writes a side-by-side PNG: LR | bicubic | GLEAN | GT.
No download is needed; without ``--checkpoint`` the weights are random and
the GLEAN panel shows only that the pipeline runs end to end.

Example::

    python tools/demo.py --out-dir work_dirs/demo
    python tools/demo.py --checkpoint glean_cat_8x_20210614-d3ac8683.pth
"""
import argparse
import os
import os.path as osp
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import glean_plugin  # noqa: F401  (mmcv compatibility, registers GLEANNet)
from glean_plugin import GLEANNet
from glean_plugin.checkpoint import load_state_dict_from_file

IN_SIZE, OUT_SIZE = 32, 256


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', default='work_dirs/demo',
                        help='folder for the output PNG')
    parser.add_argument('--checkpoint', default=None,
                        help='MMagic GLEAN cat 8x checkpoint (optional)')
    parser.add_argument('--image', default='chelsea',
                        help='scikit-image sample name (default: chelsea)')
    return parser.parse_args()


def load_sample(name: str) -> np.ndarray:
    """Centre-cropped, OUT_SIZE x OUT_SIZE RGB uint8 sample image."""
    import skimage.data
    import skimage.transform
    if not hasattr(skimage.data, name):
        raise SystemExit(f'error: scikit-image has no sample image {name!r}')
    img = getattr(skimage.data, name)()
    if img.ndim != 3 or img.shape[2] != 3:
        raise SystemExit(f'error: sample {name!r} is not an RGB image '
                         f'(shape {img.shape})')
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    img = skimage.transform.resize(img, (OUT_SIZE, OUT_SIZE), order=3,
                                   anti_aliasing=True)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def matlab_downsample(gt: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-like bicubic downsampling (MMagic's implementation)."""
    from mmagic.datasets.transforms import MATLABLikeResize
    out = MATLABLikeResize(keys=['img'], scale=1 / scale)(
        {'img': gt.astype(np.float32) / 255.})['img']
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> (1, 3, H, W) in [-1, 1] (MMagic's GLEAN norm)."""
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1


def to_image(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [-1, 1] -> uint8 (H, W, 3)."""
    t = ((t[0].clamp(-1, 1) + 1) * 127.5).round().byte()
    return t.permute(1, 2, 0).numpy()


def main() -> None:
    args = parse_args()
    gt = load_sample(args.image)
    lr = matlab_downsample(gt, OUT_SIZE // IN_SIZE)
    model = GLEANNet(IN_SIZE, OUT_SIZE).eval()
    if args.checkpoint:
        state = load_state_dict_from_file(args.checkpoint)
        state = {k[len('generator.'):]: v for k, v in state.items()
                 if k.startswith('generator.')} or state
        model.load_state_dict(state, strict=True)
        print(f'loaded {args.checkpoint}')
    else:
        print('no --checkpoint: GLEAN weights are random (pipeline check '
              'only); train with make demo once training lands, or pass an '
              'MMagic GLEAN cat 8x checkpoint')
    lr_t = to_tensor(lr)
    start = time.perf_counter()
    with torch.inference_mode():
        sr = to_image(model(lr_t))
    elapsed = time.perf_counter() - start
    bicubic = to_image(F.interpolate(lr_t, size=OUT_SIZE, mode='bicubic',
                                     align_corners=False))
    lr_big = np.kron(lr, np.ones((OUT_SIZE // IN_SIZE, ) * 2 + (1, ),
                                 dtype=np.uint8))
    grid = np.concatenate([lr_big, bicubic, sr, gt], axis=1)
    os.makedirs(args.out_dir, exist_ok=True)
    path = osp.join(args.out_dir, f'glean_x8_{args.image}.png')
    tmp = path + '.tmp.png'
    import imageio.v3 as iio
    iio.imwrite(tmp, grid)
    os.replace(tmp, path)
    print(f'GLEAN 32->256 forward: {elapsed:.2f} s on CPU')
    print(f'wrote {path}  (LR | bicubic | GLEAN | GT)')


if __name__ == '__main__':
    sys.exit(main())
