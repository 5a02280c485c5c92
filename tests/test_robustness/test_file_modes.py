"""Files the tools write through temporary files get the user's file mode
(0o666 less the umask, as ``open()`` gives), not ``mkstemp``'s 0o600.

The JSON of ``tools/test.py`` and the training checkpoints are checked end
to end in tests/test_tools/test_train_test.py.
"""
import os
import os.path as osp
import stat

import pytest
import torch

from glean_plugin.datasets import build_demo_dataset
from glean_plugin.engine.hooks import AtomicLocalBackend
from tests.support import stylegan2_sources
from tests.support.tiny_glean import OUT_SIZE, SCALE, random_images
from tests.test_robustness.robustness_tools import run_tool_in_process

# (umask, the mode a new file gets, the mode a new folder gets)
UMASKS = [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]


@pytest.fixture(params=UMASKS, ids=['umask022', 'umask077'])
def umask(request):
    """Run the test under a umask; yields the expected file, folder modes."""
    mask, file_mode, folder_mode = request.param
    old = os.umask(mask)
    yield file_mode, folder_mode
    os.umask(old)


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_converted_checkpoint(tmp_path, umask, monkeypatch, capsys):
    size, style = 32, 16
    source = str(tmp_path / 'ffhq.pt')
    torch.save({'g_ema': stylegan2_sources.rosinality_generator_state(
        size, stylegan2_sources.stylegan2_table(size, 2, 16), style, 2),
                'latent_avg': torch.zeros(style)}, source)
    dst = str(tmp_path / 'out' / 'ffhq.pth')
    status, _, err = run_tool_in_process('convert_stylegan2', [source, dst],
                                         monkeypatch, capsys)
    assert status == 0, err
    assert _mode(dst) == umask[0]
    assert os.listdir(osp.dirname(dst)) == ['ffhq.pth']


def test_prepared_images_and_meta_file(tmp_path, umask, monkeypatch, capsys):
    import imageio.v3 as iio
    gt = tmp_path / 'gt'
    gt.mkdir()
    for i, img in enumerate(random_images(2, size=OUT_SIZE)):
        iio.imwrite(gt / f'{i}.png', img)
    out = str(tmp_path / 'out')
    status, _, err = run_tool_in_process(
        'prepare_data', ['folder', str(gt), out, '--scales', str(SCALE)],
        monkeypatch, capsys)
    assert status == 0, err
    written = [osp.join(root, name) for root, _, names in os.walk(out)
               for name in names]
    assert len(written) == 5  # 2 GT, 2 LR, the meta-info file
    assert {_mode(p) for p in written} == {umask[0]}


def test_demo_data_folder(tmp_path, umask):
    root = str(tmp_path / 'demo')
    build_demo_dataset(root, train_faces=2, val_faces=1, train_crops=1)
    assert _mode(root) == umask[1]  # not tempfile.mkdtemp's 0o700
    assert _mode(osp.join(root, 'train', 'meta_info_GT.txt')) == umask[0]


def test_checkpoint_backend(tmp_path, umask):
    """What AtomicCheckpointHook writes checkpoints through."""
    path = str(tmp_path / 'iter_2.pth')
    AtomicLocalBackend().put(b'weights', path)
    AtomicLocalBackend().put_text('iter_2.pth', str(tmp_path / 'last'))
    assert _mode(path) == _mode(str(tmp_path / 'last')) == umask[0]


def test_demo_outputs(tmp_path, umask):
    """The demo's metrics.json, metrics.md and side_by_side.png."""
    from glean_plugin.apis import demo
    gts = random_images(2, size=OUT_SIZE)
    lrs = random_images(2, size=OUT_SIZE // SCALE, seed=1)
    rows = [{'method': 'bicubic', 'psnr': 30.0, 'ssim': 0.9}]
    json_path, md_path = demo.write_metrics(str(tmp_path), rows, 'note')
    png_path = str(tmp_path / 'side_by_side.png')
    demo.write_side_by_side(png_path, [('LR', lrs), ('GT', gts)], [0, 1])
    assert sorted(os.listdir(tmp_path)) == ['metrics.json', 'metrics.md',
                                            'side_by_side.png']
    assert _mode(json_path) == _mode(md_path) == _mode(png_path) == umask[0]
