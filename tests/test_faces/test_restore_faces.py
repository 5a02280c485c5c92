"""tools/restore_faces.py end to end on skimage's astronaut with a tiny
GLEAN face model, and restore_faces in memory (keep-size, limits)."""
import json
import os
from types import SimpleNamespace

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
from skimage import data

from glean_plugin.apis import InferenceSettings, init_generator
from glean_plugin.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_PARTIAL
from glean_plugin.faces import FaceLimits, restore_faces, upscale_photo
from tests.support.tool_runs import run_tool_in_process
from tests.test_faces.tiny_face import (IN_SIZE, OUT_SIZE, SCALE,
                                        write_tiny_face_model)

OUTPUTS = ('astronaut_restored.png', 'astronaut_faces.json',
           'astronaut_face00_input.png', 'astronaut_face00_restored.png')


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp('tiny_face')
    config, checkpoint = write_tiny_face_model(folder)
    photo = str(folder / 'astronaut.png')
    iio.imwrite(photo, data.astronaut())
    return config, checkpoint, photo


@pytest.fixture
def restore(model, monkeypatch, capsys):
    """``restore(out_dir, *options, photo=None)``: tools/restore_faces.py run
    as ``__main__`` in this process; (returncode, stdout, stderr)."""
    config, checkpoint, astronaut = model

    def run(out_dir, *extra, photo=None):
        status, out, err = run_tool_in_process(
            'restore_faces', [photo or astronaut, str(out_dir), '--config',
                              config, '--checkpoint', checkpoint,
                              '--device', 'cpu', *extra],
            monkeypatch, capsys)
        return SimpleNamespace(returncode=status, stdout=out, stderr=err)

    return run


def _quad_masks(quad, shape, margin=2):
    """Pixels clearly outside the pasted square, and its central half."""
    inside = np.zeros(shape, np.uint8)
    cv2.fillPoly(inside, [np.round(quad).astype(np.int32)], 1)
    grown = cv2.dilate(inside, np.ones((2 * margin + 1,) * 2, np.uint8))
    centre = quad.mean(0)
    core = np.zeros(shape, np.uint8)
    cv2.fillPoly(core, [np.round(centre + (quad - centre) / 2).astype(
        np.int32)], 1)
    return grown == 0, core == 1


def test_restore_faces_tool_on_astronaut(restore, tmp_path):
    out = tmp_path / 'out'
    proc = restore(out)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert '1 face(s) found' in proc.stdout and '1 restored' in proc.stdout
    assert sorted(os.listdir(out)) == sorted(OUTPUTS)
    report = json.loads((out / 'astronaut_faces.json').read_text())
    assert (report['found'], report['restored'], report['skipped']) == (
        1, 1, 0)
    face = report['faces'][0]
    assert face['status'] == 'restored' and face['alignment'] == 'eyes'
    assert report['output_size'] == [512 * SCALE, 512 * SCALE]

    photo = data.astronaut()
    restored = iio.imread(out / 'astronaut_restored.png')
    assert restored.shape == (512 * SCALE, 512 * SCALE, 3)
    background = upscale_photo(photo, SCALE)
    outside, core = _quad_masks(np.asarray(face['quad']),
                                restored.shape[:2])
    assert outside.sum() > 0.5 * outside.size
    np.testing.assert_array_equal(restored[outside], background[outside])
    changed = (restored[core] != background[core]).any(-1).mean()
    assert changed > 0.9, f'only {changed:.0%} of the face changed'

    crop_in = iio.imread(out / 'astronaut_face00_input.png')
    crop_out = iio.imread(out / 'astronaut_face00_restored.png')
    assert crop_in.shape == (IN_SIZE, IN_SIZE, 3)
    assert crop_out.shape == (OUT_SIZE, OUT_SIZE, 3)
    # the aligned input is the face: its middle is skin, not the grey wall
    middle = crop_in[IN_SIZE // 3:2 * IN_SIZE // 3,
                     IN_SIZE // 3:2 * IN_SIZE // 3].reshape(-1, 3)
    red, _, blue = middle.mean(0)
    assert red > blue + 20

    # a second run without --overwrite refuses and leaves every file as is
    before = {n: (out / n).read_bytes() for n in OUTPUTS}
    stamps = {n: os.stat(out / n).st_mtime_ns for n in OUTPUTS}
    again = restore(out)
    assert again.returncode == EXIT_BAD_INPUT
    assert 'exist' in again.stderr and '--overwrite' in again.stderr
    assert {n: (out / n).read_bytes() for n in OUTPUTS} == before
    assert {n: os.stat(out / n).st_mtime_ns for n in OUTPUTS} == stamps
    assert sorted(os.listdir(out)) == sorted(OUTPUTS)  # no partial files
    forced = restore(out, '--overwrite')
    assert forced.returncode == EXIT_OK, forced.stderr
    assert (out / 'astronaut_restored.png').read_bytes() == before[
        'astronaut_restored.png']  # the same model gives the same photo


def test_restore_faces_tool_without_a_face(restore, tmp_path):
    grey = tmp_path / 'grey.png'
    iio.imwrite(grey, np.full((96, 128, 3), 128, np.uint8))
    out = tmp_path / 'out'
    proc = restore(out, photo=str(grey))
    assert proc.returncode == EXIT_PARTIAL, proc.stderr
    assert '0 face(s) found' in proc.stdout
    assert 'no face found' in proc.stderr
    report = json.loads((out / 'grey_faces.json').read_text())
    assert (report['found'], report['restored'], report['faces']) == (
        0, 0, [])
    written = iio.imread(out / 'grey_restored.png')
    assert written.shape == (96 * SCALE, 128 * SCALE, 3)
    assert sorted(os.listdir(out)) == ['grey_faces.json', 'grey_restored.png']


def test_restore_faces_tool_refuses_bad_input(restore, tmp_path):
    proc = restore(tmp_path / 'out', photo=str(tmp_path / 'no.png'))
    assert proc.returncode == EXIT_BAD_INPUT
    assert proc.stderr.strip().splitlines()[-1].startswith('error: ')
    assert 'no.png' in proc.stderr and not (tmp_path / 'out').exists()
    proc = restore(tmp_path / 'out', '--feather', '0.9')
    assert proc.returncode == 2 and '--feather' in proc.stderr


@pytest.fixture(scope='module')
def generator(model):
    config, checkpoint, _ = model
    return (init_generator(config, checkpoint, 'cpu'),
            InferenceSettings.from_config(config))


def test_keep_size_and_limits(generator):
    net, settings = generator
    photo = data.astronaut()
    kept = restore_faces(net, photo, settings, keep_size=True)
    assert kept.scale == 1 and kept.photo.shape == photo.shape
    (face,) = kept.faces
    assert face.status == 'restored'
    assert face.restored_crop.shape == (OUT_SIZE, OUT_SIZE, 3)
    outside, core = _quad_masks(face.quad, photo.shape[:2])
    np.testing.assert_array_equal(kept.photo[outside], photo[outside])
    assert (kept.photo[core] != photo[core]).any(-1).mean() > 0.9

    # the crop (~185 px) would need its 256-px restoration enlarged 1.45x
    # into the 2x photo: too large under a 1.2 limit, left as it is
    strict = restore_faces(net, photo, settings,
                           limits=FaceLimits(max_paste_zoom=1.2))
    (face,) = strict.faces
    assert face.status == 'too_large' and 'max_paste_zoom' in face.reason
    assert face.input_crop is None and face.restored_crop is None
    np.testing.assert_array_equal(strict.photo, strict.background)
    # at 256x256 the cascade finds the face but not its eyes: aligned by the
    # box (1.6 x 53 px = 85 px crop), enlarged 1.5x to the 128-px input
    small = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    (face,) = restore_faces(net, small, settings).faces
    assert (face.alignment, face.status) == ('box', 'restored')
    assert face.input_crop.shape == (IN_SIZE, IN_SIZE, 3)
    (face,) = restore_faces(net, small, settings,
                            limits=FaceLimits(max_input_zoom=1.2)).faces
    assert face.status == 'too_small' and 'max_input_zoom' in face.reason


def test_face_limits_refuse_bad_values():
    with pytest.raises(ValueError, match='max_input_zoom'):
        FaceLimits(max_input_zoom=0.5)
    with pytest.raises(ValueError, match='max_paste_zoom'):
        FaceLimits(max_paste_zoom='2')
