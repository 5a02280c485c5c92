"""glean_plugin.apis.benchmark: paired data, measurements, model runs,
skipped models, grid and report (tiny GLEAN, synthetic images)."""
import csv
import io
import json
import os
import os.path as osp
import stat

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import torch.nn as nn

from glean_plugin.apis import InferenceSettings
from glean_plugin.apis import benchmark as bm
from glean_plugin.apis import init_generator, matlab_resize, super_resolve
from glean_plugin.datasets import matlab_downsample
from tests.support.helpers import torch_threads
from tests.support.tiny_glean import (CONFIG, OUT_SIZE, SCALE, random_images,
                                      save_checkpoint)

EDSR_CONFIG = 'mmagic::edsr/edsr_x4c64b16_1xb16-300k_div2k.py'
FAST = bm.TimingSettings(warmup=0, repeats=2)
# a umask that differs from mkstemp's 0o600, and the mode it gives
UMASK, NEW_FILE_MODE = 0o022, 0o644


def smooth_image(size, seed):
    """uint8 (size, size, 3): a smooth random image (bicubic does well)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return matlab_resize(coarse, (size, size))


def make_pairs(root, gt_size, scales, names=('a.png', 'b.png', 'c.png'),
               meta=None):
    """root/GT and root/BIx<s>_down of smooth images; a meta file if given."""
    os.makedirs(osp.join(root, 'GT'))
    for s in scales:
        os.makedirs(osp.join(root, f'BIx{s}_down'))
    for i, name in enumerate(names):
        gt = smooth_image(gt_size, i)
        iio.imwrite(osp.join(root, 'GT', name), gt)
        for s in scales:
            iio.imwrite(osp.join(root, f'BIx{s}_down', name),
                        matlab_downsample(gt, s))
    if meta:
        with open(osp.join(root, meta), 'w') as f:
            f.write(''.join(f'{n} (64,64,3)\n' for n in reversed(names)))
    return str(root)


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """One CPU thread (see ``torch_threads``)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'glean.pth')


@pytest.fixture(scope='module')
def sr_data(tmp_path_factory):
    root = make_pairs(tmp_path_factory.mktemp('sr') / 'data', OUT_SIZE,
                      (SCALE, ))
    return bm.load_paired_data(root)


def test_load_paired_data_follows_the_meta_file(tmp_path):
    root = make_pairs(tmp_path / 'd', 32, (4, ), meta='meta_info_GT.txt')
    data = bm.load_paired_data(root)
    assert data.names == ('c.png', 'b.png', 'a.png')  # meta-file order
    assert (data.scale, data.lr_folder) == (4, 'BIx4_down')
    assert data.meta_file == osp.join(root, 'meta_info_GT.txt')
    assert [g.shape for g in data.gts] == [(32, 32, 3)] * 3
    assert [lr.shape for lr in data.lrs] == [(8, 8, 3)] * 3
    np.testing.assert_array_equal(data.gts[0], smooth_image(32, 2))
    assert len(bm.load_paired_data(root, 4, max_images=2)) == 2
    os.remove(osp.join(root, 'meta_info_GT.txt'))
    data = bm.load_paired_data(root)  # no meta file: all of GT/, sorted
    assert data.names == ('a.png', 'b.png', 'c.png')
    assert data.meta_file is None


def test_load_paired_data_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='data folder not found'):
        bm.load_paired_data(str(tmp_path / 'none'))
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(FileNotFoundError, match='no GT/ folder'):
        bm.load_paired_data(str(tmp_path / 'empty'))
    root = make_pairs(tmp_path / 'd', 32, (4, 8))
    with pytest.raises(ValueError, match=r'2 LR folders \(BIx4_down, '
                       r'BIx8_down\): give the scale'):
        bm.load_paired_data(root)
    with pytest.raises(FileNotFoundError, match='no BIx16_down/ folder'):
        bm.load_paired_data(root, 16)
    with pytest.raises(ValueError, match='max_images must be a positive'):
        bm.load_paired_data(root, 4, max_images=0)
    for meta in ('meta_info_a.txt', 'meta_info_b.txt'):
        (tmp_path / 'd' / meta).write_text('a.png\n')
    with pytest.raises(ValueError, match='several meta-info files'):
        bm.load_paired_data(root, 4)
    assert bm.load_paired_data(root, 4, 'meta_info_b.txt').names == (
        'a.png', )
    with pytest.raises(FileNotFoundError, match='meta-info file not found'):
        bm.load_paired_data(root, 4, 'other.txt')
    os.remove(osp.join(root, 'BIx4_down', 'b.png'))
    iio.imwrite(osp.join(root, 'BIx8_down', 'c.png'), smooth_image(3, 0))
    (tmp_path / 'd' / 'meta_info_b.txt').write_text('a.png\nb.png\nc.png\n')
    with pytest.raises(FileNotFoundError, match=r'1 image\(s\) have no LR '
                       'image in .*: b.png'):
        bm.load_paired_data(root, 4, 'meta_info_b.txt')
    with pytest.raises(ValueError, match=r'not x8 their LR image: c.png '
                       r'\(GT 32x32, LR 3x3\)'):
        bm.load_paired_data(root, 8, 'meta_info_b.txt')


def test_model_specs_pair_and_name():
    specs = bm.model_specs(['a/glean.py', 'b/edsr.py'], ['g.pth', 'e.pth'])
    assert specs == [bm.ModelSpec('bicubic'),
                     bm.ModelSpec('glean', 'a/glean.py', 'g.pth'),
                     bm.ModelSpec('edsr', 'b/edsr.py', 'e.pth')]
    specs = bm.model_specs(['x.py', 'bicubic', 'x.py'], ['1.pth', '2.pth'])
    assert [s.name for s in specs] == ['x:1', 'bicubic', 'x:2']
    assert specs[1].is_bicubic and not specs[0].is_bicubic
    specs = bm.model_specs(['x.py', 'y/x.py'], ['c.pth', 'd/c.pth'])
    assert [s.name for s in specs] == ['bicubic', 'x:c', 'x:c#2']
    assert bm.model_specs(['bicubic'], []) == [bm.ModelSpec('bicubic')]
    with pytest.raises(ValueError, match=r"2 config\(s\) besides 'bicubic' "
                       r"but 1 checkpoint\(s\)"):
        bm.model_specs(['a.py', 'bicubic', 'b.py'], ['a.pth'])
    with pytest.raises(ValueError, match="'bicubic' is named 2 times"):
        bm.model_specs(['bicubic', 'bicubic'], [])


def test_flops_latency_and_peak_memory(device, capfd):
    conv = nn.Conv2d(3, 8, 3, padding=1).to(device)
    x = torch.rand(1, 3, 16, 16, device=device)
    with torch.inference_mode():
        # 2 FLOPs per multiply-accumulate: 8 * 3 * 3 * 3 per output pixel
        assert bm.count_flops(lambda: conv(x)) == 2 * 8 * 27 * 16 * 16
    calls = []
    times = bm.measure_latency(lambda: calls.append(1), device,
                               bm.TimingSettings(warmup=2, repeats=3))
    assert len(calls) == 5 and len(times) == 3 and min(times) >= 0
    mib = 2**20
    peak = bm.measure_peak_memory(
        lambda: torch.ones(mib // 4, device=device), device)
    assert peak == mib
    # two 1 MiB operands and their 1 MiB sum alive at once: 3 MiB
    peak = bm.measure_peak_memory(
        lambda: (torch.ones(mib // 4, device=device) +
                 torch.ones(mib // 4, device=device)).sum(), device)
    assert 3 * mib <= peak < 3 * mib + 4096  # the sum's output is live too
    err = capfd.readouterr().err
    assert 'profiler_start' not in err and 'DeviceProperties' not in err


def test_run_generator_matches_super_resolve(checkpoint, device):
    generator = init_generator(CONFIG, checkpoint, device)
    images = random_images(2, seed=3)
    for settings in (InferenceSettings(),
                     InferenceSettings(mean=(0., ) * 3, std=(255., ) * 3,
                                       channel_order='bgr')):
        expected = super_resolve(generator, images, settings)
        for img, ref in zip(images, expected):
            out = bm.run_generator(generator, img, settings)
            assert out.dtype == np.uint8 and out.shape == ref.shape
            np.testing.assert_array_equal(out, ref)


def test_benchmark_model_measures_the_generator(checkpoint, sr_data,
                                                device):
    quality = bm.ImageQuality()
    spec = bm.ModelSpec('tiny', CONFIG, checkpoint)
    result = bm.benchmark_model(spec, sr_data, quality, FAST, device,
                                keep=(0, 2))
    assert result.ok, result.reason
    generator = init_generator(CONFIG, checkpoint, device)
    assert result.params == sum(p.numel() for p in generator.parameters())
    assert result.scale == SCALE and result.flops > 0
    assert len(result.latency_s) == FAST.repeats
    assert result.peak_memory_bytes > 0
    outputs = super_resolve(generator, list(sr_data.lrs))
    assert sorted(result.kept) == [0, 2]
    np.testing.assert_array_equal(result.kept[2], outputs[2])
    expected = [quality(o, g) for o, g in zip(outputs, sr_data.gts)]
    assert [p['image'] for p in result.per_image] == list(sr_data.names)
    assert result.metrics['psnr'] == pytest.approx(
        np.mean([e['psnr'] for e in expected]))
    assert set(result.metrics) == {'psnr', 'ssim'}


def test_models_that_do_not_fit_are_skipped(checkpoint, tmp_path, device):
    quality = bm.ImageQuality()
    spec = bm.ModelSpec('tiny', CONFIG, checkpoint)
    # data of the model's scale whose LR images are 16x16: it takes 8x8
    data = bm.load_paired_data(
        make_pairs(tmp_path / 'big', 16 * SCALE, (SCALE, )))
    result = bm.benchmark_model(spec, data, quality, FAST, device)
    assert not result.ok and result.status == 'skipped'
    assert result.reason.startswith(
        f'takes 8x8 (WxH) inputs; 3 of 3 LR images in BIx{SCALE}_down '
        'differ: a.png (16x16)')
    data = bm.load_paired_data(
        make_pairs(tmp_path / 'other', 16 * SCALE, (2 * SCALE, )))
    result = bm.benchmark_model(spec, data, quality, FAST, device)
    assert result.reason == (f'x{SCALE} model (8x8 -> {OUT_SIZE}x{OUT_SIZE}, '
                             f'WxH), the data is x{2 * SCALE} '
                             f'(BIx{2 * SCALE}_down)')
    assert result.scale == SCALE and result.metrics == {}
    (tmp_path / 'gan.py').write_text("model = dict(type='SomeGAN')\n")
    result = bm.benchmark_model(bm.ModelSpec('gan', str(tmp_path / 'gan.py'),
                                             checkpoint), data, quality)
    assert result.reason == ("not an SR model: the config's model (SomeGAN) "
                             'has no generator')
    result = bm.benchmark_model(
        bm.ModelSpec('none', CONFIG, str(tmp_path / 'none.pth')), data,
        quality)
    assert result.reason.startswith('FileNotFoundError: checkpoint not '
                                    'found')


def test_inference_settings_of_configs_testing_several_sets(tmp_path):
    config = tmp_path / 'edsr.py'
    config.write_text(f"_base_ = '{EDSR_CONFIG}'\n")
    settings = bm.inference_settings(str(config))
    assert settings == InferenceSettings(mean=(0., ) * 3, std=(255., ) * 3,
                                         channel_order='rgb',
                                         imdecode_backend='cv2')


def test_missing_metric_weights_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))
    for build, name in ((bm.build_lpips, 'lpips'),
                        (bm.build_identity, 'identity')):
        metric, status = build('cpu')
        assert metric is None
        assert status.name == name and not status.available
        assert str(tmp_path) in status.reason
        assert 'no download is attempted' in status.reason
        assert status.describe().startswith('unavailable: ')
        with pytest.raises(FileNotFoundError):
            build('cpu', str(tmp_path / 'none.pth'))
        with pytest.raises(ValueError, match='not both'):
            build('cpu', str(tmp_path / 'none.pth'), random=True)
    metric, status = bm.build_lpips('cpu', random=True)
    assert status.available and status.random and 'RANDOM' in \
        status.describe()
    quality = bm.ImageQuality(lpips=metric)
    a, b = smooth_image(64, 0), smooth_image(64, 1)
    assert quality.keys == ('psnr', 'ssim', 'lpips')
    assert quality(a, a)['lpips'] == pytest.approx(0, abs=1e-6)
    assert quality(a, b)['lpips'] > 0
    assert quality.drop_failing_networks([a, b]) == {}
    # AlexNet's feature maps vanish on 16x16 images
    dropped = quality.drop_failing_networks([a, smooth_image(16, 0)])
    assert list(dropped) == ['lpips']
    assert dropped['lpips'].startswith('fails on a 16x16 image: ')
    assert quality.keys == ('psnr', 'ssim')


def _result(name, outputs=None, **kwargs):
    """A result keeping the outputs of images 0 and 2."""
    result = bm.BenchmarkResult(name, **kwargs)
    result.kept = {i: outputs[i] for i in (0, 2)} if outputs else {}
    return result


def test_grid_and_report_files(tmp_path, sr_data):
    gts = list(sr_data.gts)
    flipped = [g[::-1].copy() for g in gts]
    results = [
        _result('bicubic', flipped, params=0, latency_s=[1e-3],
                metrics=dict(psnr=float('inf'), ssim=0.5, lpips=0.25)),
        _result('m1', gts, config='m1.py', checkpoint='m1.pth', params=1234,
                flops=2 * 10**9, latency_s=[0.01, 0.03, 0.02],
                peak_memory_bytes=3 * 2**20,
                metrics=dict(psnr=30.0, ssim=0.9, lpips=0.125)),
        _result('m2', config='m2.py', checkpoint='m2.pth', status='skipped',
                reason='x4 model | bad\nsecond line'),
    ]
    side = 3 * SCALE  # a crop smaller than the images, a multiple of scale
    grid, columns = bm.image_grid(sr_data, results, [0, 2], crop=side)
    assert columns == ['LR (nearest)', 'bicubic', 'm1', 'GT']
    assert grid.shape == (2 * side, 4 * side, 3)
    top = (OUT_SIZE - side) // 2 // SCALE * SCALE
    box = slice(top, top + side)
    np.testing.assert_array_equal(grid[side:, 3 * side:], gts[2][box, box])
    np.testing.assert_array_equal(grid[:side, side:2 * side],
                                  flipped[0][box, box])
    np.testing.assert_array_equal(grid[:SCALE, :SCALE],
                                  np.broadcast_to(sr_data.lrs[0][top // SCALE,
                                                                 top // SCALE],
                                                  (SCALE, SCALE, 3)))
    with pytest.raises(ValueError, match='did not keep'):
        bm.image_grid(sr_data, results, [1])

    status = bm.NetworkMetricStatus('lpips', True, random=True)
    report = bm.BenchmarkReport(sr_data, results, networks=[status],
                                grid_columns=columns)
    markdown = report.to_markdown()
    assert '| model | PSNR (dB) | SSIM | LPIPS* | params |' in markdown
    assert ('| m1 | 30.00 | 0.9000 | 0.1250 | 1.23 k | 2 | 20 | 3 | ok |'
            in markdown)
    assert '| m2 | n/a |' in markdown
    assert '| bicubic | inf | 0.5000 | 0.2500 | 0 | n/a | 1 | n/a | ok |' \
        in markdown
    assert 'skipped: x4 model / bad |' in markdown  # one line, no pipe
    assert '* lpips: RANDOM weights' in markdown
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert [r['name'] for r in rows] == ['bicubic', 'm1', 'm2']
    assert float(rows[1]['gflops']) == 2.0 and rows[0]['gflops'] == ''
    assert rows[2]['reason'] == 'x4 model | bad\nsecond line'

    out_dir = str(tmp_path / 'out')
    paths = bm.plan_result_files(out_dir)
    old_umask = os.umask(UMASK)
    try:
        written = bm.write_report(report, paths, grid)
    finally:
        os.umask(old_umask)
    assert sorted(os.listdir(out_dir)) == sorted(bm.RESULT_FILES.values())
    # the user's file mode (open()'s 0o666 less the umask), not mkstemp's
    assert {stat.S_IMODE(os.stat(p).st_mode) for p in written} == {
        NEW_FILE_MODE}
    assert sorted(written) == sorted(paths.values())
    with open(paths['json']) as f:
        saved = json.load(f)
    assert saved['models'][1]['latency_ms'] == pytest.approx(20)
    assert saved['models'][0]['psnr'] == 'inf'  # strict JSON
    assert saved['models'][2]['reason'] == 'x4 model | bad\nsecond line'
    assert saved['settings']['networks']['lpips']['random'] is True
    assert saved['grid']['columns'] == columns
    np.testing.assert_array_equal(iio.imread(paths['grid']), grid)
    with pytest.raises(FileExistsError, match='--overwrite'):
        bm.plan_result_files(out_dir)
    assert bm.plan_result_files(out_dir, overwrite=True) == paths
    with pytest.raises(ValueError, match='is a file'):
        bm.plan_result_files(paths['json'])


def test_grid_rows_spread_over_the_data():
    assert bm.grid_rows(10, 4) == [0, 3, 6, 9]
    assert bm.grid_rows(2, 4) == [0, 1]
    assert bm.grid_rows(0, 4) == []
