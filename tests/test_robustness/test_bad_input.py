"""Bad input, tool by tool: each row of ``ROWS`` is one test.

Every tool must exit non-zero (a library call: raise a specific exception)
with one ``error:`` line naming what was expected and what was given, no
traceback, no half-written output, and nothing existing overwritten unless
asked. Folder runs (infer, prepare_data) skip and report a bad image and
process the others (exit status 1, the summary counts both).

Most rows run the tool as ``__main__`` in this process
(``run_tool_in_process``); two run it as a subprocess, end to end.
"""
import os
import os.path as osp
import re
import shutil
from dataclasses import dataclass
from typing import Callable, Dict

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from glean_plugin.apis import (InputSizeError, init_generator, read_image,
                               super_resolve)
from glean_plugin.checkpoint import (CheckpointMismatchError,
                                     load_state_dict_from_file)
from glean_plugin.datasets import matlab_downsample
from glean_plugin.engine import FiniteLossHook, NonFiniteLossError
from glean_plugin.engine.config import ConfigError
from glean_plugin.evaluation import IdentitySimilarity
from glean_plugin.evaluation.lpips_metric import LPIPS
from glean_plugin.models import GLEANNet, VGGPerceptualLoss
from tests.support import stylegan2_sources
from tests.support.helpers import REPO_ROOT
from tests.support.tiny_glean import (IN_SIZE, OUT_SIZE, SCALE, random_images,
                                      save_checkpoint)
from tests.test_robustness.robustness_tools import (CONFIG, PYTHON,
                                                    assert_error, data_options,
                                                    run, run_tool_in_process,
                                                    train_args)

IS_ROOT = hasattr(os, 'geteuid') and os.geteuid() == 0
ROOT_SKIP = ('runs as root, where file permissions are not enforced; the '
             '"-simulated" row checks the same path with a PermissionError')
# A GLEAN of another architecture: 16 -> 32 (the demo's is 8 -> 32).
OTHER_GLEAN = dict(in_size=16, out_size=OUT_SIZE, style_channels=32,
                   max_channels=32, num_mlps=2, rrdb_channels=32, num_rrdbs=2)
# A config file with a misspelled type.
TYPO_CONFIG = (f"_base_ = {osp.join(REPO_ROOT, CONFIG)!r}\n"
               "model = dict(generator=dict(type='GLEANNett'))\n")
NO_PERMISSION = 0o555


@dataclass
class Ctx:
    """What a row needs: a scratch folder, the demo data and checkpoint,
    and pytest's monkeypatch and capsys."""

    tmp: str
    data: str
    checkpoint: str
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture

    def path(self, *parts: str) -> str:
        return osp.join(self.tmp, *parts)

    def tool(self, name: str, *args):
        """(status, stdout, stderr) of tools/<name>.py in this process."""
        return run_tool_in_process(name, args, self.monkeypatch, self.capsys)


ROWS: Dict[str, Callable[[Ctx], None]] = {}


def row(name: str):
    """Add the decorated function to the table under ``name``."""

    def add(func):
        ROWS[name] = func
        return func

    return add


# ------------------------------------------------------------- file makers
def write_png(path: str, img: np.ndarray) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    iio.imwrite(path, img)
    return path


def truncated(path: str, data: bytes, keep: int) -> str:
    """Write the first ``keep`` bytes of ``data`` to ``path``."""
    with open(path, 'wb') as f:
        f.write(data[:keep])
    return path


def truncated_png(path: str, size: int = IN_SIZE) -> str:
    _, data = cv2.imencode('.png', random_images(1, size, seed=5)[0])
    return truncated(path, data.tobytes(), len(data) // 2)


def truncated_jpeg(path: str, size: int = IN_SIZE) -> str:
    """A JPEG missing its last bytes: OpenCV decodes it without an error
    (the missing rows come out grey)."""
    _, data = cv2.imencode('.jpg', random_images(1, size, seed=6)[0],
                            (cv2.IMWRITE_JPEG_QUALITY, 100))
    data = data.tobytes()
    path = truncated(path, data, len(data) - 40)
    assert cv2.imread(path) is not None  # the case that needs the check
    return path


def odd_images(folder: str, size: int) -> Dict[str, np.ndarray]:
    """Grayscale, RGBA, 16-bit RGB and gray, and palette PNGs in ``folder``,
    each with the 8-bit RGB image it stands for."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(3)
    gray = rng.integers(0, 256, (size, size), dtype=np.uint8)
    rgba = rng.integers(0, 256, (size, size, 4), dtype=np.uint8)
    rgb16 = rng.integers(0, 65536, (size, size, 3), dtype=np.uint16)
    gray16 = rng.integers(0, 65536, (size, size), dtype=np.uint16)
    palette = Image.fromarray(random_images(1, size, seed=4)[0]).convert(
        'P', palette=Image.ADAPTIVE, colors=16)
    iio.imwrite(osp.join(folder, 'gray.png'), gray)
    iio.imwrite(osp.join(folder, 'rgba.png'), rgba)
    cv2.imwrite(osp.join(folder, 'rgb16.png'), rgb16[..., ::-1])  # BGR
    cv2.imwrite(osp.join(folder, 'gray16.png'), gray16)
    palette.save(osp.join(folder, 'palette.png'))
    return {
        'gray': np.repeat(gray[..., None], 3, axis=2),
        'rgba': rgba[..., :3],
        'rgb16': (rgb16 >> 8).astype(np.uint8),  # the high byte, as OpenCV
        'gray16': np.repeat((gray16 >> 8).astype(np.uint8)[..., None], 3,
                            axis=2),
        'palette': np.asarray(palette.convert('RGB')),
    }


def other_checkpoint(path: str) -> str:
    """An SRGAN-style checkpoint whose generator is a 16 -> 32 GLEAN."""
    other = GLEANNet(**OTHER_GLEAN)
    return save_checkpoint(path, {f'generator.{k}': v
                                  for k, v in other.state_dict().items()})


def refuse_new_files(ctx: Ctx, folder: str) -> None:
    """Make creating a file in ``folder`` raise the PermissionError of a
    read-only folder (at ``os.open``, where ``atomic_open`` creates its
    temporary file)."""
    real_open = os.open
    prefix = osp.abspath(folder) + os.sep

    def open_(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and osp.abspath(path).startswith(prefix):
            raise PermissionError(13, 'Permission denied', path)
        return real_open(path, flags, *args, **kwargs)

    ctx.monkeypatch.setattr(os, 'open', open_)


def assert_untouched(path: str, content: bytes) -> None:
    with open(path, 'rb') as f:
        assert f.read() == content


# ------------------------------------------------------------ tools/train.py
@row('train-config-missing')
def _(ctx):
    status, _, err = ctx.tool('train', 'configs/glean_demo_missing.py')
    assert_error(status, err, "config not found: 'configs/glean_demo_missing"
                 ".py'")


@row('train-option-key-typo')
def _(ctx):
    """A typo in --cfg-options: end to end (subprocess)."""
    proc = run([PYTHON, 'tools/train.py', *train_args(
        ctx.path('work'), ctx.data, 2, 'model.generatr.in_size=8')])
    assert_error(proc.returncode, proc.stderr, 'does not fit SRGAN',
                 "unexpected keyword argument 'generatr'")
    # the warning names the key the config does not have
    assert 'does not have: model.generatr (a typo?)' in proc.stdout
    assert not osp.exists(ctx.path('work', 'iter_2.pth'))


@row('train-config-type-typo')
def _(ctx):
    config = ctx.path('typo.py')
    with open(config, 'w') as f:
        f.write(TYPO_CONFIG)
    status, _, err = ctx.tool('train', config, '--work-dir',
                              ctx.path('typo_work'))
    assert_error(status, err, "unknown type='GLEANNett'",
                 "did you mean 'GLEANNet'")


@row('train-data-folder-missing')
def _(ctx):
    missing = ctx.path('no_data')
    status, _, err = ctx.tool('train', *train_args(ctx.path('work'),
                                                   missing, 2))
    assert_error(status, err, 'No such file or directory',
                 f'{missing}/train/meta_info_GT.txt')
    assert not [n for n in os.listdir(ctx.path('work')) if n.endswith('.pth')]


@row('train-wrong-input-size')
def _(ctx):
    """LR images of another scale (4x4 for the 8 -> 32 model)."""
    status, _, err = ctx.tool('train', *train_args(
        ctx.path('work'), ctx.data, 2,
        'train_dataloader.dataset.data_prefix.img=BIx8_down'))
    assert_error(status, err, 'GLEANNet expects inputs of in_size 8x8, got '
                 '4x4', 'raised at glean_plugin/models/glean.py:')
    assert not [n for n in os.listdir(ctx.path('work')) if n.endswith('.pth')]


@row('train-work-dir-is-a-file')
def _(ctx):
    work = ctx.path('work_file')
    with open(work, 'wb') as f:
        f.write(b'keep')
    status, _, err = ctx.tool('train', *train_args(work, ctx.data, 2))
    assert_error(status, err, f"work dir '{work}' is a file, expected a "
                 'folder')
    assert_untouched(work, b'keep')


@row('train-stylegan2-checkpoint-missing')
def _(ctx):
    missing = ctx.path('stylegan2_cat.pth')
    status, _, err = ctx.tool('train', *train_args(
        ctx.path('work'), ctx.data, 2,
        f'model.generator.pretrained={missing}'))
    assert_error(status, err, f"checkpoint not found: '{missing}'",
                 'Download it', 'give its local path')


@row('train-vgg-weights-missing')
def _(ctx):
    ctx.monkeypatch.setenv('TORCH_HOME', ctx.path('torch_home'))
    status, _, err = ctx.tool('train', *train_args(
        ctx.path('work'), ctx.data, 2,
        'model.perceptual_loss.pretrained=torchvision://vgg16'))
    expected = ctx.path('torch_home', 'hub', 'checkpoints',
                        'vgg16-397923af.pth')
    assert_error(status, err, f'expected {expected}', 'Download https://')
    # read when training starts, before any iteration
    assert not [n for n in os.listdir(ctx.path('work')) if n.endswith('.pth')]


@row('train-amp-without-gpu')
def _(ctx):
    """A user error like any other: status 2 (not sys.exit(str)'s 1)."""
    if torch.cuda.is_available():
        pytest.skip('checks the refusal on a machine without a GPU')
    status, _, err = ctx.tool('train', *train_args(ctx.path('work'),
                                                   ctx.data, 2), '--amp')
    assert_error(status, err, '--amp needs a GPU (or NPU/MLU)')
    assert not osp.exists(ctx.path('work'))  # refused before any work


@row('train-work-dir-not-writable')
def _(ctx):
    if IS_ROOT:
        pytest.skip(ROOT_SKIP)
    locked = ctx.path('locked')
    os.makedirs(locked, mode=NO_PERMISSION)
    status, _, err = ctx.tool('train', *train_args(osp.join(locked, 'work'),
                                                   ctx.data, 2))
    assert_error(status, err, 'no permission to write', locked)
    assert os.listdir(locked) == []


@row('train-work-dir-not-writable-simulated')
def _(ctx):
    locked = ctx.path('locked')
    os.makedirs(locked)
    real_access = os.access
    ctx.monkeypatch.setattr(
        os, 'access', lambda p, mode, **kw: False if osp.abspath(p) == locked
        else real_access(p, mode, **kw))
    status, _, err = ctx.tool('train', *train_args(osp.join(locked, 'work'),
                                                   ctx.data, 2))
    assert_error(status, err, "work dir '", 'no permission to write in '
                 f"'{locked}'")
    assert os.listdir(locked) == []

    # a refusal the check cannot foresee (e.g. root-squashed NFS): the
    # PermissionError of creating the work dir
    ctx.monkeypatch.setattr(os, 'access', real_access)
    real_makedirs = os.makedirs

    def refuse(path, *args, **kwargs):
        if osp.abspath(path).startswith(locked + os.sep):
            raise PermissionError(13, 'Permission denied', path)
        return real_makedirs(path, *args, **kwargs)

    ctx.monkeypatch.setattr(os, 'makedirs', refuse)
    status, _, err = ctx.tool('train', *train_args(osp.join(locked, 'work'),
                                                   ctx.data, 2))
    assert_error(status, err, 'Permission denied: ', f"{locked}/work'")
    assert os.listdir(locked) == []


# ------------------------------------------------------------- tools/test.py
@row('test-checkpoint-of-another-architecture')
def _(ctx):
    wrong = other_checkpoint(ctx.path('x16.pth'))
    status, _, err = ctx.tool('test', CONFIG, wrong, '--work-dir',
                              ctx.path('work'), '--out', ctx.path('m.json'),
                              '--cfg-options', *data_options(ctx.data))
    assert_error(status, err, 'does not match the generator of the config '
                 '(GLEANNet)', 'missing 8 of 159 keys: decoder.1.',
                 'unexpected 14 keys: decoder.1.0.bias')
    assert not osp.exists(ctx.path('m.json'))


@row('test-checkpoint-truncated')
def _(ctx):
    with open(ctx.checkpoint, 'rb') as f:
        data = f.read()
    broken = truncated(ctx.path('broken.pth'), data, len(data) // 2)
    status, _, err = ctx.tool('test', CONFIG, broken, '--work-dir',
                              ctx.path('work'), '--cfg-options',
                              *data_options(ctx.data))
    assert_error(status, err, f"could not read checkpoint '{broken}'",
                 'the file is incomplete')


@row('test-out-exists')
def _(ctx):
    out = ctx.path('metrics.json')
    with open(out, 'wb') as f:
        f.write(b'{"PSNR": 30}')
    status, _, err = ctx.tool('test', CONFIG, ctx.checkpoint, '--out', out)
    assert status == 2 and 'Traceback' not in err
    assert f"--out '{out}' exists; pass --overwrite" in err
    assert_untouched(out, b'{"PSNR": 30}')


# ------------------------------------------------------------ tools/infer.py
def infer(ctx, inputs, out_dir, *options):
    return ctx.tool('infer', CONFIG, ctx.checkpoint, inputs, out_dir,
                    '--device', 'cpu', '--no-progress', *options)


@row('infer-input-missing')
def _(ctx):
    status, _, err = infer(ctx, ctx.path('nothing'), ctx.path('out'))
    assert_error(status, err, f"input not found: '{ctx.path('nothing')}'")
    assert not osp.exists(ctx.path('out'))


@row('infer-empty-folder')
def _(ctx):
    os.makedirs(ctx.path('empty'))
    status, _, err = infer(ctx, ctx.path('empty'), ctx.path('out'))
    assert_error(status, err, 'no images (.png', ctx.path('empty'))
    assert not osp.exists(ctx.path('out'))


@row('infer-folder-with-bad-files')
def _(ctx):
    """A text file, a truncated PNG and a truncated JPEG among good images:
    end to end (subprocess)."""
    folder = ctx.path('in')
    good = random_images(2, seed=7)
    for i, img in enumerate(good):
        write_png(osp.join(folder, f'good{i}.png'), img)
    with open(osp.join(folder, 'notes.txt'), 'w') as f:
        f.write('not an image')
    truncated_png(osp.join(folder, 'cut_png.png'))
    truncated_jpeg(osp.join(folder, 'cut_jpeg.jpg'))
    out = ctx.path('out')
    proc = run([PYTHON, 'tools/infer.py', CONFIG, ctx.checkpoint, folder, out,
                '--device', 'cpu', '--no-progress'])
    assert_error(proc.returncode, proc.stderr, '2 of 4 image(s) could not '
                 'be read and were skipped', 'cut_jpeg.jpg', 'cut_png.png',
                 expected_status=1)
    for name in ('notes.txt', 'cut_png.png', 'cut_jpeg.jpg'):
        assert f"warning: skipped '{osp.join(folder, name)}'" in proc.stderr
    assert 'incomplete or corrupt JPEG' in proc.stderr
    assert 'wrote 2 image(s)' in proc.stdout
    assert 'skipped 1 non-image entry' in proc.stdout
    assert sorted(os.listdir(out)) == ['good0.png', 'good1.png']
    generator = init_generator(CONFIG, ctx.checkpoint, 'cpu')
    for i, ref in enumerate(super_resolve(generator, good)):
        out_img = iio.imread(osp.join(out, f'good{i}.png'))
        assert np.abs(out_img.astype(int) - ref).max() <= 1


@row('infer-grayscale-rgba-16bit-palette')
def _(ctx):
    """Accepted, converted as the config's loader reads them."""
    expected = odd_images(ctx.path('in'), IN_SIZE)
    status, out, err = infer(ctx, ctx.path('in'), ctx.path('out'))
    assert status == 0, err
    assert f'wrote {len(expected)} image(s)' in out
    generator = init_generator(CONFIG, ctx.checkpoint, 'cpu')
    for name, rgb in expected.items():
        np.testing.assert_array_equal(
            read_image(ctx.path('in', f'{name}.png')), rgb, err_msg=name)
        ref = super_resolve(generator, [rgb])[0]
        result = iio.imread(ctx.path('out', f'{name}.png'))
        assert result.shape == (OUT_SIZE, OUT_SIZE, 3), name
        assert np.abs(result.astype(int) - ref).max() <= 1, name


@row('infer-wrong-input-size')
def _(ctx):
    image = write_png(ctx.path('in', 'big.png'),
                      random_images(1, size=2 * IN_SIZE)[0])
    status, _, err = infer(ctx, image, ctx.path('out'))
    assert_error(status, err, f'the model takes {IN_SIZE}x{IN_SIZE} (WxH) '
                 'inputs', f'big.png ({2 * IN_SIZE}x{2 * IN_SIZE})',
                 '--resize')
    assert not osp.exists(ctx.path('out'))


@row('infer-output-folder-is-a-file')
def _(ctx):
    image = write_png(ctx.path('in', 'a.png'), random_images(1)[0])
    out = ctx.path('out')
    with open(out, 'wb') as f:
        f.write(b'keep')
    status, _, err = infer(ctx, image, out)
    assert_error(status, err, f"output folder '{out}' is a file")
    assert_untouched(out, b'keep')


@row('infer-output-exists')
def _(ctx):
    image = write_png(ctx.path('in', 'a.png'), random_images(1)[0])
    os.makedirs(ctx.path('out'))
    with open(ctx.path('out', 'a.png'), 'wb') as f:
        f.write(b'keep')
    status, _, err = infer(ctx, image, ctx.path('out'))
    assert_error(status, err, '1 output(s) exist', 'a.png', '--overwrite')
    assert_untouched(ctx.path('out', 'a.png'), b'keep')


@row('infer-checkpoint-of-another-architecture')
def _(ctx):
    image = write_png(ctx.path('in', 'a.png'), random_images(1)[0])
    ctx.checkpoint = other_checkpoint(ctx.path('x16.pth'))
    status, _, err = infer(ctx, image, ctx.path('out'))
    assert_error(status, err, 'does not match the generator', 'missing ',
                 'unexpected ', 'in_size=16, out_size=32')
    assert not osp.exists(ctx.path('out'))


@row('infer-config-type-typo')
def _(ctx):
    config = ctx.path('typo.py')
    with open(config, 'w') as f:
        f.write(TYPO_CONFIG)
    image = write_png(ctx.path('in', 'a.png'), random_images(1)[0])
    status, _, err = ctx.tool('infer', config, ctx.checkpoint, image,
                              ctx.path('out'))
    assert_error(status, err, "model.generator: unknown type='GLEANNett'",
                 "did you mean 'GLEANNet'")


@row('infer-output-not-writable')
def _(ctx):
    if IS_ROOT:
        pytest.skip(ROOT_SKIP)
    image = write_png(ctx.path('in', 'a.png'), random_images(1)[0])
    os.makedirs(ctx.path('out'), mode=NO_PERMISSION)
    status, _, err = infer(ctx, image, ctx.path('out'))
    assert_error(status, err, 'Permission denied', ctx.path('out'))
    assert os.listdir(ctx.path('out')) == []


@row('infer-output-not-writable-simulated')
def _(ctx):
    """The PermissionError that writing into a read-only folder raises."""
    images = [write_png(ctx.path('in', f'{n}.png'), img)
              for n, img in zip('ab', random_images(2))]
    os.makedirs(ctx.path('out'))
    refuse_new_files(ctx, ctx.path('out'))
    status, _, err = infer(ctx, osp.dirname(images[0]), ctx.path('out'))
    assert_error(status, err, 'Permission denied', ctx.path('out'))
    assert os.listdir(ctx.path('out')) == []


# ---------------------------------------------------------- tools/retouch.py
@row('retouch-image-missing')
def _(ctx):
    status, _, err = ctx.tool('retouch', CONFIG, ctx.checkpoint,
                              ctx.path('nothing.png'), ctx.path('out.png'),
                              '--device', 'cpu')
    assert_error(status, err, 'nothing.png')
    assert not osp.exists(ctx.path('out.png'))


# ------------------------------------------------------------- tools/demo.py
@row('demo-data-root-of-something-else')
def _(ctx):
    other = ctx.path('photos')
    os.makedirs(other)
    status, _, err = ctx.tool('demo', '--data-root', other, '--work-dir',
                              ctx.path('work'))
    assert_error(status, err, f'{other} is not a demo data set',
                 'meta_info_GT.txt is missing')
    assert os.listdir(other) == [] and not osp.exists(ctx.path('work'))


# ---------------------------------------------------- tools/restore_faces.py
@row('faces-photo-missing')
def _(ctx):
    status, _, err = ctx.tool('restore_faces', ctx.path('nothing.jpg'),
                              ctx.path('out'), '--config', CONFIG,
                              '--checkpoint', ctx.checkpoint,
                              '--device', 'cpu')
    assert_error(status, err, ctx.path('nothing.jpg'))
    assert not osp.exists(ctx.path('out'))


@row('faces-photo-not-an-image')
def _(ctx):
    os.makedirs(ctx.path('in'))
    with open(ctx.path('in', 'notes.jpg'), 'w') as f:
        f.write('not an image')
    status, _, err = ctx.tool('restore_faces', ctx.path('in', 'notes.jpg'),
                              ctx.path('out'), '--config', CONFIG,
                              '--checkpoint', ctx.checkpoint,
                              '--device', 'cpu')
    assert_error(status, err, ctx.path('in', 'notes.jpg'))
    assert not osp.exists(ctx.path('out')) or not os.listdir(ctx.path('out'))


# --------------------------------------------------------- tools/modelzoo.py
@row('modelzoo-metafile-not-yaml')
def _(ctx):
    os.makedirs(ctx.path('repo', 'configs'))
    with open(ctx.path('repo', 'configs', 'metafile.yml'), 'w') as f:
        f.write('Models:\n- Name: x\n  Weights Note: a: b\n')
    with open(ctx.path('repo', 'README.md'), 'w') as f:
        f.write('intro\n')
    status, _, err = ctx.tool('modelzoo', '--write-readme', '--root',
                              ctx.path('repo'))
    assert_error(status, err, 'metafile.yml is not valid YAML')
    with open(ctx.path('repo', 'README.md')) as f:
        assert f.read() == 'intro\n'


# ------------------------------------------- tools/analysis/benchmark_speed.py
@row('speed-output-smaller-than-input')
def _(ctx):
    """Bad arguments: argparse's status 2 and one 'error:' line."""
    status, _, err = ctx.tool(osp.join('analysis', 'benchmark_speed'),
                              '--sizes', '32x16')
    assert status == 2 and 'Traceback' not in err
    errors = [line for line in err.splitlines() if 'error: ' in line]
    assert len(errors) == 1 and 'smaller than the output' in errors[0]


# -------------------------------------------------------- tools/benchmark.py
def benchmark(ctx, data, *options):
    return ctx.tool('benchmark', '--configs', 'bicubic', '--data', data,
                    '--scale', str(SCALE), '--out-dir', ctx.path('bench'),
                    '--device', 'cpu', '--warmup', '0', '--repeats', '1',
                    *options)


@row('benchmark-data-missing')
def _(ctx):
    status, _, err = benchmark(ctx, ctx.path('no_data'))
    assert_error(status, err, f"data folder not found: '{ctx.path('no_data')}"
                 "'")
    assert not osp.exists(ctx.path('bench'))


@row('benchmark-truncated-image')
def _(ctx):
    """A benchmark covers the whole set: a broken image is an error."""
    data = ctx.path('val')
    shutil.copytree(osp.join(ctx.data, 'val'), data)
    name = sorted(os.listdir(osp.join(data, 'GT')))[0]
    truncated_png(osp.join(data, 'GT', name), OUT_SIZE)
    status, _, err = benchmark(ctx, data, '--lpips-random')
    assert_error(status, err, 'cannot read', name)
    assert not osp.exists(ctx.path('bench'))


@row('benchmark-config-type-typo')
def _(ctx):
    """An unbuildable model is a skipped row with the reason; nothing was
    benchmarked: exit status 1."""
    config = ctx.path('typo.py')
    with open(config, 'w') as f:
        f.write(TYPO_CONFIG)
    status, out, err = ctx.tool(
        'benchmark', '--configs', config, '--checkpoints', ctx.checkpoint,
        '--data', osp.join(ctx.data, 'val'), '--scale', str(SCALE),
        '--out-dir', ctx.path('bench'), '--device', 'cpu', '--warmup', '0',
        '--repeats', '1', '--lpips-random')
    assert_error(status, err, 'no model could be benchmarked',
                 expected_status=1)
    assert "skipped typo: ConfigError: model.generator: unknown type=" \
        "'GLEANNett'" in err


@row('benchmark-lpips-weights-missing')
def _(ctx):
    missing = ctx.path('alexnet.pth')
    status, _, err = benchmark(ctx, osp.join(ctx.data, 'val'),
                               '--lpips-backbone', missing)
    assert_error(status, err, f"lpips weights not found: '{missing}'",
                 "torchvision's ImageNet weights of the alex backbone, "
                 'https://download.pytorch.org/models/alexnet-owt-')
    assert not osp.exists(ctx.path('bench'))


@row('benchmark-output-is-a-file')
def _(ctx):
    with open(ctx.path('bench'), 'wb') as f:
        f.write(b'keep')
    status, _, err = benchmark(ctx, osp.join(ctx.data, 'val'))
    assert_error(status, err, f"output folder '{ctx.path('bench')}' is a "
                 'file')
    assert_untouched(ctx.path('bench'), b'keep')


# ------------------------------------------------------ tools/prepare_data.py
def prepare(ctx, src, out, *options):
    return ctx.tool('prepare_data', 'folder', src, out, '--scales',
                    str(SCALE), *options)


@row('prepare-source-missing')
def _(ctx):
    status, _, err = prepare(ctx, ctx.path('no_gt'), ctx.path('out'))
    assert_error(status, err, f"source not found: '{ctx.path('no_gt')}'")
    assert not osp.exists(ctx.path('out'))


@row('prepare-empty-folder')
def _(ctx):
    os.makedirs(ctx.path('gt'))
    with open(ctx.path('gt', 'readme.md'), 'w') as f:
        f.write('no images here')
    status, _, err = prepare(ctx, ctx.path('gt'), ctx.path('out'))
    assert_error(status, err, 'no images (.png', ctx.path('gt'))
    assert not osp.exists(ctx.path('out'))


@row('prepare-folder-with-bad-files')
def _(ctx):
    """A text file is ignored (and said so), a truncated PNG and JPEG and an
    image whose size the scale does not divide are skipped and reported, the
    others written; no meta-info file until the set is complete."""
    gt = ctx.path('gt')
    good = random_images(2, size=OUT_SIZE, seed=8)
    for i, img in enumerate(good):
        write_png(osp.join(gt, f'good{i}.png'), img)
    with open(osp.join(gt, 'notes.txt'), 'w') as f:
        f.write('not an image')
    truncated_png(osp.join(gt, 'cut_png.png'), OUT_SIZE)
    truncated_jpeg(osp.join(gt, 'cut_jpeg.jpg'), OUT_SIZE)
    write_png(osp.join(gt, 'odd.png'), random_images(1, size=30)[0])
    out = ctx.path('out')
    status, stdout, err = prepare(ctx, gt, out)
    assert_error(status, err, '3 of 5 images could not be prepared',
                 "cannot read image '", 'cut_png.png', 'cut_jpeg.jpg',
                 'size 30x30 is not divisible by scale 4',
                 'The other 2 were written', '--resume', expected_status=1)
    assert 'ignored 1 file(s)' in stdout and 'notes.txt' in stdout
    for folder in ('GT', f'BIx{SCALE}_down'):
        assert sorted(os.listdir(osp.join(out, folder))) == [
            'good0.png', 'good1.png']
    assert not osp.exists(osp.join(out, 'meta_info_GT.txt'))
    lr = np.asarray(Image.open(osp.join(out, f'BIx{SCALE}_down',
                                        'good1.png')))
    np.testing.assert_array_equal(lr, matlab_downsample(good[1], SCALE))

    # the bad images removed, --resume finishes the set
    for name in ('cut_png.png', 'cut_jpeg.jpg', 'odd.png'):
        os.remove(osp.join(gt, name))
    status, _, err = prepare(ctx, gt, out, '--resume')
    assert status == 0, err
    with open(osp.join(out, 'meta_info_GT.txt')) as f:
        assert f.read().split('\n')[:2] == ['good0.png (32,32,3)',
                                            'good1.png (32,32,3)']


@row('prepare-grayscale-rgba-16bit-palette')
def _(ctx):
    """Accepted, converted to the 8-bit RGB the training loader would read;
    the GT files are 8-bit RGB PNGs."""
    expected = odd_images(ctx.path('gt'), OUT_SIZE)
    out = ctx.path('out')
    status, _, err = prepare(ctx, ctx.path('gt'), out)
    assert status == 0, err
    for name, rgb in expected.items():
        gt = cv2.imread(osp.join(out, 'GT', f'{name}.png'),
                        cv2.IMREAD_UNCHANGED)
        assert gt.dtype == np.uint8 and gt.shape == rgb.shape, name
        np.testing.assert_array_equal(gt[..., ::-1], rgb, err_msg=name)
        lr = np.asarray(Image.open(osp.join(out, f'BIx{SCALE}_down',
                                            f'{name}.png')))
        np.testing.assert_array_equal(lr, matlab_downsample(rgb, SCALE),
                                      err_msg=name)


@row('prepare-output-exists')
def _(ctx):
    write_png(ctx.path('gt', 'a.png'), random_images(1, size=OUT_SIZE)[0])
    meta = ctx.path('out', 'meta_info_GT.txt')
    os.makedirs(ctx.path('out'))
    with open(meta, 'w') as f:
        f.write('earlier run\n')
    status, _, err = prepare(ctx, ctx.path('gt'), ctx.path('out'))
    assert_error(status, err, 'output exists', meta, '--overwrite',
                 '--resume')
    assert_untouched(meta, b'earlier run\n')
    assert os.listdir(ctx.path('out')) == ['meta_info_GT.txt']


@row('prepare-output-root-is-a-file')
def _(ctx):
    write_png(ctx.path('gt', 'a.png'), random_images(1, size=OUT_SIZE)[0])
    with open(ctx.path('out'), 'wb') as f:
        f.write(b'keep')
    status, _, err = prepare(ctx, ctx.path('gt'), ctx.path('out'))
    assert_error(status, err, f"output root '{ctx.path('out')}' is a file")
    assert_untouched(ctx.path('out'), b'keep')


@row('prepare-output-not-writable')
def _(ctx):
    if IS_ROOT:
        pytest.skip(ROOT_SKIP)
    write_png(ctx.path('gt', 'a.png'), random_images(1, size=OUT_SIZE)[0])
    os.makedirs(ctx.path('out'), mode=NO_PERMISSION)
    status, _, err = prepare(ctx, ctx.path('gt'), ctx.path('out'),
                             '--overwrite')
    assert_error(status, err, 'Permission denied', ctx.path('out'))


@row('prepare-output-not-writable-simulated')
def _(ctx):
    """The PermissionError that creating folders in a read-only one
    raises."""
    write_png(ctx.path('gt', 'a.png'), random_images(1, size=OUT_SIZE)[0])
    os.makedirs(ctx.path('out'))
    real_makedirs = os.makedirs

    def refuse(path, *args, **kwargs):
        if osp.abspath(path).startswith(ctx.path('out') + os.sep):
            raise PermissionError(13, 'Permission denied', path)
        return real_makedirs(path, *args, **kwargs)

    ctx.monkeypatch.setattr(os, 'makedirs', refuse)
    status, _, err = prepare(ctx, ctx.path('gt'), ctx.path('out'),
                             '--overwrite')
    assert_error(status, err, 'Permission denied', ctx.path('out'))
    assert os.listdir(ctx.path('out')) == []


# ------------------------------------------------- tools/convert_stylegan2.py
@row('convert-source-missing')
def _(ctx):
    status, _, err = ctx.tool('convert_stylegan2', ctx.path('ffhq.pt'),
                              ctx.path('out.pth'))
    assert_error(status, err, f"source checkpoint not found: "
                 f"'{ctx.path('ffhq.pt')}'")
    assert not osp.exists(ctx.path('out.pth'))


@row('convert-source-truncated')
def _(ctx):
    with open(ctx.checkpoint, 'rb') as f:
        data = f.read()
    source = truncated(ctx.path('ffhq.pt'), data, len(data) // 3)
    status, _, err = ctx.tool('convert_stylegan2', source,
                              ctx.path('out.pth'))
    assert_error(status, err, f"could not read '{source}'",
                 'the file is incomplete')
    assert not osp.exists(ctx.path('out.pth'))


@row('convert-source-is-not-stylegan2')
def _(ctx):
    status, _, err = ctx.tool('convert_stylegan2', ctx.checkpoint,
                              ctx.path('out.pth'))
    assert_error(status, err, "already in MMagic's layout",
                 'nothing to convert')
    assert not osp.exists(ctx.path('out.pth'))


@row('convert-output-exists')
def _(ctx):
    with open(ctx.path('out.pth'), 'wb') as f:
        f.write(b'keep')
    status, _, err = ctx.tool('convert_stylegan2', ctx.checkpoint,
                              ctx.path('out.pth'))
    assert_error(status, err, f"output '{ctx.path('out.pth')}' exists; pass "
                 '--overwrite')
    assert_untouched(ctx.path('out.pth'), b'keep')


@row('convert-output-not-writable-simulated')
def _(ctx):
    """A real conversion whose write meets the PermissionError of a
    read-only folder: nothing is left behind."""
    size, style = 32, 16
    source = ctx.path('ffhq.pt')
    torch.save({'g_ema': stylegan2_sources.rosinality_generator_state(
        size, stylegan2_sources.stylegan2_table(size, 2, 16), style, 2),
                'latent_avg': torch.zeros(style)}, source)
    os.makedirs(ctx.path('out'))
    refuse_new_files(ctx, ctx.path('out'))
    status, _, err = ctx.tool('convert_stylegan2', source,
                              ctx.path('out', 'ffhq.pth'))
    assert_error(status, err, 'Permission denied', ctx.path('out'))
    assert os.listdir(ctx.path('out')) == []


# ------------------------------------------------------------- library API
@row('api-config-missing')
def _(ctx):
    with pytest.raises(FileNotFoundError, match="config not found: '"):
        init_generator(ctx.path('missing.py'), ctx.checkpoint, 'cpu')


@row('api-config-type-typo')
def _(ctx):
    with open(ctx.path('typo.py'), 'w') as f:
        f.write(TYPO_CONFIG)
    with pytest.raises(ConfigError, match="unknown type='GLEANNett'.*did you "
                       "mean 'GLEANNet'"):
        init_generator(ctx.path('typo.py'), ctx.checkpoint, 'cpu')


@row('api-checkpoint-of-another-architecture')
def _(ctx):
    wrong = other_checkpoint(ctx.path('x16.pth'))
    with pytest.raises(CheckpointMismatchError) as info:
        init_generator(CONFIG, wrong, 'cpu')
    message = str(info.value)
    for fragment in ('missing 8 of 159 keys', 'unexpected 14 keys',
                     'encoder.3.0.bias', 'in_size=16, out_size=32'):
        assert fragment in message, fragment


@row('api-checkpoint-truncated')
def _(ctx):
    with open(ctx.checkpoint, 'rb') as f:
        data = f.read()
    broken = truncated(ctx.path('cut.pth'), data, len(data) - 100)
    with pytest.raises(CheckpointMismatchError, match='the file is '
                       'incomplete'):
        load_state_dict_from_file(broken)


@row('api-read-truncated-jpeg')
def _(ctx):
    path = truncated_jpeg(ctx.path('cut.jpg'))
    with pytest.raises(ValueError, match='cut.jpg.*incomplete or corrupt '
                       'JPEG'):
        read_image(path)


@row('api-wrong-input-size')
def _(ctx):
    generator = init_generator(CONFIG, ctx.checkpoint, 'cpu')
    with pytest.raises(InputSizeError, match=f'the model takes {IN_SIZE}x'
                       f'{IN_SIZE} \\(WxH\\) inputs, got 12x16'):
        super_resolve(generator, random_images(1, size=16, width=12))


@row('api-stylegan2-checkpoint-missing')
def _(ctx):
    missing = ctx.path('stylegan2.pth')
    with pytest.raises(FileNotFoundError, match=f"not found: '{missing}'.*"
                       'Download it'):
        GLEANNet(**OTHER_GLEAN, pretrained=missing)


@row('api-vgg-weights-missing')
def _(ctx):
    ctx.monkeypatch.setenv('TORCH_HOME', ctx.path('torch_home'))
    expected = ctx.path('torch_home', 'hub', 'checkpoints',
                        'vgg16-397923af.pth')
    loss = VGGPerceptualLoss({'21': 1.0}, pretrained='torchvision://vgg16')
    with pytest.raises(FileNotFoundError,
                       match=f'expected {expected}. Download https://'):
        loss.init_weights()  # what the Runner calls when training starts
    with pytest.raises(FileNotFoundError, match=f'expected {expected}'):
        loss(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16))


@row('api-lpips-weights-missing')
def _(ctx):
    ctx.monkeypatch.setenv('TORCH_HOME', ctx.path('torch_home'))
    expected = ctx.path('torch_home', 'hub', 'checkpoints', 'alexnet-')
    with pytest.raises(FileNotFoundError, match=f'expected {expected}.*'
                       'Download https://download.pytorch.org/'):
        LPIPS(net='alex')


@row('api-arcface-weights-missing')
def _(ctx):
    ctx.monkeypatch.setenv('TORCH_HOME', ctx.path('torch_home'))
    expected = ctx.path('torch_home', 'hub', 'checkpoints',
                        'Arcface-IR-SE50')
    with pytest.raises(FileNotFoundError, match=f'expected {expected}. '
                       'Download https://'):
        IdentitySimilarity()


@row('api-inf-loss')
def _(ctx):
    """The hook that stops training (end to end: test_nan_loss.py)."""

    class Hub:
        def get_info(self, key):
            return 'work/iter_4.pth' if key == 'last_ckpt' else None

    class Runner:
        iter, message_hub = 5, Hub()

    hook = FiniteLossHook()
    hook.after_train_iter(Runner(), 0, outputs=dict(
        loss_pix=torch.tensor(0.5), loss_gan=torch.tensor(0.1), lr=1e9))
    with pytest.raises(NonFiniteLossError) as info:
        hook.after_train_iter(Runner(), 0, outputs=dict(
            loss_pix=torch.tensor(float('inf')), loss_gan=torch.tensor(0.1)))
    assert info.value.iteration == 6 and info.value.bad == ['loss_pix']
    assert str(info.value).startswith('loss_pix became NaN or Inf at '
                                      'iteration 6 (loss_pix=inf, '
                                      'loss_gan=0.1)')
    assert 'the last checkpoint, work/iter_4.pth, is intact' in str(
        info.value)


# Rows that train, or run a tool in a subprocess: only in the full run.
SLOW_ROWS = {'train-option-key-typo', 'infer-folder-with-bad-files',
             'train-data-folder-missing', 'train-vgg-weights-missing',
             'train-wrong-input-size', 'test-checkpoint-truncated'}


@pytest.mark.parametrize('name', [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW_ROWS else name
    for name in ROWS])
def test_bad_input(name, tmp_path, tiny_data, tiny_checkpoint, monkeypatch,
                   capsys):
    ROWS[name](Ctx(str(tmp_path), tiny_data, tiny_checkpoint, monkeypatch,
                   capsys))


# Row name prefix -> the tool it runs (relative to tools/, without .py).
ROW_TOOLS = {'train': 'train', 'test': 'test', 'infer': 'infer',
             'retouch': 'retouch', 'benchmark': 'benchmark',
             'prepare': 'prepare_data', 'convert': 'convert_stylegan2',
             'demo': 'demo', 'modelzoo': 'modelzoo', 'faces': 'restore_faces',
             'speed': osp.join('analysis', 'benchmark_speed')}


def _tools() -> list:
    """Every Python tool in tools/ and tools/analysis/."""
    found = []
    for folder in ('', 'analysis'):
        root = osp.join(REPO_ROOT, 'tools', folder)
        found += [osp.join(folder, n[:-len('.py')]) for n in os.listdir(root)
                  if n.endswith('.py')]
    return sorted(found)


def test_table_covers_every_tool():
    prefixes = {name.split('-')[0] for name in ROWS}
    assert prefixes == set(ROW_TOOLS) | {'api'}
    assert sorted(ROW_TOOLS.values()) == _tools()
    assert len(ROWS) >= 20
    assert SLOW_ROWS <= set(ROWS), SLOW_ROWS - set(ROWS)


@pytest.mark.parametrize('tool', _tools())
def test_every_tool_exits_through_the_one_wrapper(tool):
    """One behaviour for every tool: its statuses and error lines come from
    glean_plugin.cli.run_tool."""
    with open(osp.join(REPO_ROOT, 'tools', f'{tool}.py')) as f:
        source = f.read()
    main_block = source[source.index("if __name__ == '__main__':"):]
    assert re.search(r'^from glean_plugin\.cli import .*\brun_tool\b', source,
                     re.MULTILINE)
    assert main_block.split('\n')[1].strip() == 'sys.exit(run_tool(main))'
