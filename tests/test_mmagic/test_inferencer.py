"""MMagic's inferencer and inference demo run the plugin's GLEAN (CPU, no
compiled mmcv ops), with a tiny checkpoint the tests write."""
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from glean_plugin.registry import MODELS
from glean_plugin.run_mmagic import find_mmagic_script
from tests.support.helpers import PYTHON, run_tool
from tests.support.tiny_glean import (CONFIG, OUT_SIZE, generator_state,
                                      random_images, save_checkpoint)

DEMO = 'mmagic::demo/mmagic_inference_demo.py'
# PNG rounding of the prediction (tensor2img rounds to uint8)
MAX_LEVEL_DIFF = 1


@pytest.fixture
def lq_file(tmp_path):
    """An 8x8 RGB image on disk (written BGR, as cv2 does)."""
    path = str(tmp_path / 'lq.png')
    cv2.imwrite(path, random_images(1)[0][..., ::-1])
    return path


def expected_sr(lq_path: str) -> np.ndarray:
    """The plugin's GLEANNet on the image, as uint8 RGB (H, W, 3)."""
    net = MODELS.build(Config.fromfile(CONFIG).model.generator)
    net.load_state_dict(generator_state(), strict=True)
    rgb = cv2.imread(lq_path)[..., ::-1].astype(np.float32)
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None] / 127.5 - 1
    with torch.no_grad():
        y = net.eval()(x)[0].permute(1, 2, 0).numpy()
    return np.clip((y + 1) * 127.5, 0, 255)


def read_rgb(path: str) -> np.ndarray:
    img = cv2.imread(path)
    assert img is not None, f'no image written at {path}'
    return img[..., ::-1].astype(np.float32)


@pytest.mark.slow
def test_mmagic_inferencer_runs_plugin_glean(tmp_path, lq_file):
    from mmagic.apis import MMagicInferencer  # needs mediapipe's solutions

    ckpt = save_checkpoint(tmp_path / 'glean_demo.pth')
    out = str(tmp_path / 'sr.png')
    inferencer = MMagicInferencer(model_name='glean', model_config=CONFIG,
                                  model_ckpt=ckpt, device='cpu')
    model = inferencer.inferencer.inferencer.model
    assert type(model.generator).__name__ == 'GLEANNet'
    assert type(model.generator).__module__.startswith('glean_plugin.')
    _, result = inferencer.infer(img=lq_file, result_out_dir=out)
    assert result.shape == (OUT_SIZE, OUT_SIZE, 3)
    sr = read_rgb(out)
    assert np.array_equal(sr, result[..., ::-1])  # the BGR image it wrote
    diff = np.abs(sr - expected_sr(lq_file)).max()
    assert diff <= MAX_LEVEL_DIFF, diff
    assert sr.std() > 1  # not a blank image


@pytest.mark.slow
def test_mmagic_inference_demo_script(tmp_path, lq_file):
    """MMagic's shipped demo script, unchanged, through the launcher."""
    ckpt = save_checkpoint(tmp_path / 'glean_demo.pth')
    out = str(tmp_path / 'demo_sr.png')
    proc = run_tool([PYTHON, '-m', 'glean_plugin.run_mmagic', DEMO,
                     '--model-name', 'glean', '--model-config', CONFIG,
                     '--model-ckpt', ckpt, '--img', lq_file,
                     '--result-out-dir', out, '--device', 'cpu'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    diff = np.abs(read_rgb(out) - expected_sr(lq_file)).max()
    assert diff <= MAX_LEVEL_DIFF, diff


def test_find_mmagic_script(tmp_path, monkeypatch):
    """mmagic:: names a script the installed mmagic ships, anything else a
    file (a same-named file in the working folder is not MMagic's); a miss
    names the path."""
    import mmagic
    shipped = find_mmagic_script(DEMO)
    assert shipped == osp.join(osp.dirname(mmagic.__file__), '.mim', 'demo',
                               'mmagic_inference_demo.py')
    assert osp.isfile(shipped)
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'demo').mkdir()
    local = tmp_path / 'demo' / 'mmagic_inference_demo.py'
    local.write_text('')
    assert find_mmagic_script('demo/mmagic_inference_demo.py') == str(local)
    assert find_mmagic_script(DEMO) == shipped
    missing = str(tmp_path / 'nope.py')
    expected = f'^script not found: {re.escape(repr(missing))}$'
    with pytest.raises(FileNotFoundError, match=expected):
        find_mmagic_script(missing)
    with pytest.raises(FileNotFoundError) as err:
        find_mmagic_script('mmagic::demo/nope.py')
    assert str(err.value).startswith(
        "script not found: 'mmagic::demo/nope.py' (the installed mmagic has "
        'no ')
    assert osp.join('mmagic', '.mim', 'demo', 'nope.py') in str(err.value)


@pytest.mark.slow
def test_launcher_command_line(tmp_path):
    """The script runs as __main__ with its own argv, after glean_plugin
    (and, with --dropin, the drop-in) was imported; a missing script is
    status 2 and one error line."""
    script = tmp_path / 'probe.py'
    script.write_text(
        'import sys\n'
        "assert __name__ == '__main__'\n"
        "print('ARGV', sys.argv[1:], 'glean_plugin' in sys.modules,\n"
        "      'glean_plugin.dropin' in sys.modules,\n"
        "      sys.modules['mmcv._ext'])\n")
    for flags, dropin in (([], False), (['--dropin'], True)):
        proc = run_tool([PYTHON, '-m', 'glean_plugin.run_mmagic', *flags,
                         str(script), '--img', 'x.png', '-v'])
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert (f"ARGV ['--img', 'x.png', '-v'] True {dropin} "
                '<module' in proc.stdout), proc.stdout
    proc = run_tool([PYTHON, '-m', 'glean_plugin.run_mmagic',
                     str(tmp_path / 'nope.py')])
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines()
              if line.startswith('error: ')]
    assert errors == [f"error: script not found: "
                      f"{str(tmp_path / 'nope.py')!r}"], proc.stderr[-3000:]
