"""glean_plugin.apis.files: image files in, PNGs out, checked first."""
import os
import os.path as osp
import stat

import imageio.v3 as iio
import numpy as np
import pytest

from glean_plugin.apis import (InputResizedWarning, InputSizeError,
                               InputSkippedWarning, collect_images,
                               init_generator, lr_path_for, plan_outputs,
                               read_image, retouch_file, super_resolve,
                               super_resolve_files, write_png_atomic)
from glean_plugin.datasets import matlab_downsample
from tests.support.tiny_glean import (CONFIG, IN_SIZE, OUT_SIZE, SCALE,
                                      random_images, save_checkpoint)

# a umask that differs from mkstemp's 0o600, and the mode it gives
UMASK, NEW_FILE_MODE = 0o022, 0o644

@pytest.fixture(scope='module')
def generator(tmp_path_factory):
    ckpt = save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'model.pth')
    return init_generator(CONFIG, ckpt, 'cpu')


def write_images(folder, images, names=None):
    os.makedirs(folder, exist_ok=True)
    names = names or [f'img{i}.png' for i in range(len(images))]
    for name, img in zip(names, images):
        iio.imwrite(osp.join(folder, name), img)
    return [osp.join(folder, n) for n in names]


def test_read_image(tmp_path):
    img = random_images(1, size=5, width=7)[0]
    path, = write_images(tmp_path, [img])
    np.testing.assert_array_equal(read_image(path), img)
    gray = str(tmp_path / 'gray.png')
    iio.imwrite(gray, img[..., 0])
    np.testing.assert_array_equal(read_image(gray), np.repeat(
        img[..., :1], 3, axis=2))  # 'color' reads gray as 3 equal channels
    broken = tmp_path / 'broken.png'
    broken.write_bytes(open(path, 'rb').read()[:20])
    with pytest.raises(ValueError, match='cannot read .*broken.png.* as an '
                       'image'):
        read_image(str(broken))
    with pytest.raises(FileNotFoundError, match='image not found'):
        read_image(str(tmp_path / 'missing.png'))


def test_write_png_atomic_leaves_no_temporary_file(tmp_path, monkeypatch):
    img = random_images(1)[0]
    path = str(tmp_path / 'out.png')
    old_umask = os.umask(UMASK)
    try:
        write_png_atomic(path, img)
    finally:
        os.umask(old_umask)
    np.testing.assert_array_equal(iio.imread(path), img)
    assert os.listdir(tmp_path) == ['out.png']
    # the user's file mode (open()'s 0o666 less the umask), not mkstemp's
    assert stat.S_IMODE(os.stat(path).st_mode) == NEW_FILE_MODE

    def fail(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(iio, 'imwrite', fail)
    with pytest.raises(OSError, match='disk full'):
        write_png_atomic(str(tmp_path / 'other.png'), img)
    assert os.listdir(tmp_path) == ['out.png']


def test_collect_images_skips_what_is_not_an_image(tmp_path):
    paths = write_images(tmp_path, random_images(2))
    (tmp_path / 'notes.txt').write_text('not an image')
    os.mkdir(tmp_path / 'sub')
    with pytest.warns(InputSkippedWarning) as record:
        images, skipped = collect_images(str(tmp_path))
    assert images == paths
    assert skipped == [str(tmp_path / 'notes.txt'), str(tmp_path / 'sub')]
    messages = [str(w.message) for w in record]
    assert any('notes.txt' in m and 'not an image' in m for m in messages)
    assert any('sub' in m and 'a folder' in m for m in messages)
    assert collect_images(paths[0]) == ([paths[0]], [])
    os.mkdir(tmp_path / 'empty')
    with pytest.raises(ValueError, match='no images'):
        collect_images(str(tmp_path / 'empty'))
    with pytest.raises(FileNotFoundError, match='input not found'):
        collect_images(str(tmp_path / 'missing'))


def test_plan_outputs_protects_inputs_and_existing_files(tmp_path):
    inputs = write_images(tmp_path / 'in', random_images(2),
                          ['a.png', 'b.jpg'])
    out_dir = str(tmp_path / 'out')
    assert plan_outputs(inputs, out_dir) == [
        osp.join(out_dir, 'a.png'), osp.join(out_dir, 'b.png')]
    with pytest.raises(ValueError, match="would overwrite the input .*a.png"):
        plan_outputs(inputs, str(tmp_path / 'in'), overwrite=True)
    with pytest.raises(ValueError, match='would both be written to'):
        plan_outputs(inputs + [str(tmp_path / 'b.png')], out_dir)
    os.makedirs(out_dir)
    open(osp.join(out_dir, 'b.png'), 'w').close()
    with pytest.raises(FileExistsError, match='1 output.* exist: .*b.png'):
        plan_outputs(inputs, out_dir)
    assert len(plan_outputs(inputs, out_dir, overwrite=True)) == 2
    with pytest.raises(ValueError, match='is a file'):
        plan_outputs(inputs, inputs[0])


def test_super_resolve_folder(tmp_path, generator):
    images = random_images(3, seed=7)
    write_images(tmp_path / 'in', images)
    (tmp_path / 'in' / 'readme.md').write_text('skip me')
    with pytest.warns(InputSkippedWarning, match='readme.md'):
        summary = super_resolve_files(generator, str(tmp_path / 'in'),
                                      str(tmp_path / 'out'), batch_size=2,
                                      progress=False)
    expected = super_resolve(generator, images)
    assert summary.written == [str(tmp_path / 'out' / f'img{i}.png')
                               for i in range(3)]
    assert summary.skipped == [str(tmp_path / 'in' / 'readme.md')]
    assert summary.resized == []
    for path, ref in zip(summary.written, expected):
        np.testing.assert_array_equal(iio.imread(path), ref)
    assert sorted(os.listdir(tmp_path / 'out')) == [
        'img0.png', 'img1.png', 'img2.png']


def test_wrong_sizes_are_listed_and_nothing_is_written(tmp_path, generator):
    write_images(tmp_path / 'in', random_images(1) +
                 random_images(2, size=16, width=12, seed=8))
    out_dir = str(tmp_path / 'out')
    with pytest.raises(InputSizeError) as err:
        super_resolve_files(generator, str(tmp_path / 'in'), out_dir,
                            progress=False)
    message = str(err.value)
    assert 'the model takes 8x8 (WxH) inputs; 2 input(s) differ' in message
    assert 'img1.png (12x16)' in message and 'img2.png (12x16)' in message
    assert not osp.exists(out_dir)

    with pytest.warns(InputResizedWarning, match='img1.png: resized'):
        summary = super_resolve_files(generator, str(tmp_path / 'in'),
                                      out_dir, resize=True, progress=False)
    assert summary.resized == [str(tmp_path / 'in' / f'img{i}.png')
                               for i in (1, 2)]
    assert all(iio.imread(p).shape == (OUT_SIZE, OUT_SIZE, 3)
               for p in summary.written)


def test_broken_image_in_a_folder_is_skipped_and_reported(tmp_path,
                                                          generator):
    images = random_images(1)
    write_images(tmp_path / 'in', images)
    broken = str(tmp_path / 'in' / 'zz.png')
    open(broken, 'wb').write(b'not a png')
    with pytest.warns(InputSkippedWarning, match='zz.png.*cannot read'):
        summary = super_resolve_files(generator, str(tmp_path / 'in'),
                                      str(tmp_path / 'out'), progress=False)
    assert list(summary.failed) == [broken]
    assert 'cannot read' in summary.failed[broken]
    assert summary.written == [str(tmp_path / 'out' / 'img0.png')]
    np.testing.assert_array_equal(iio.imread(summary.written[0]),
                                  super_resolve(generator, images)[0])
    assert sorted(os.listdir(tmp_path / 'out')) == ['img0.png']

    # nothing readable: an error, and nothing is written
    os.remove(tmp_path / 'in' / 'img0.png')
    with pytest.warns(InputSkippedWarning), \
            pytest.raises(ValueError, match='none of the 1 images'):
        super_resolve_files(generator, str(tmp_path / 'in'),
                            str(tmp_path / 'none'), progress=False)
    assert not osp.exists(tmp_path / 'none')
    # a broken file given on its own is an error
    with pytest.raises(ValueError, match='cannot read .*zz.png'):
        super_resolve_files(generator, broken, str(tmp_path / 'one'),
                            progress=False)
    assert not osp.exists(tmp_path / 'one')


def test_retouch_file(tmp_path, generator):
    edited, = write_images(tmp_path, random_images(1, size=OUT_SIZE, seed=9),
                           ['edited.png'])
    output = str(tmp_path / 'res' / 'retouched.png')
    out, lr_path = retouch_file(generator, edited, output, save_lr=True)
    assert (out, lr_path) == (output, str(tmp_path / 'res' /
                                          'retouched_lr.png'))
    assert lr_path == lr_path_for(output)
    lr = iio.imread(lr_path)
    np.testing.assert_array_equal(lr, matlab_downsample(iio.imread(edited),
                                                        SCALE))
    assert lr.shape == (IN_SIZE, IN_SIZE, 3)
    np.testing.assert_array_equal(iio.imread(output),
                                  super_resolve(generator, [lr])[0])

    with pytest.raises(FileExistsError, match='retouched.png'):
        retouch_file(generator, edited, output)
    retouch_file(generator, edited, output, overwrite=True)
    with pytest.raises(ValueError, match='would overwrite the input'):
        retouch_file(generator, edited, edited, overwrite=True)
    with pytest.raises(ValueError, match=r'must be a \.png file'):
        retouch_file(generator, edited, str(tmp_path / 'out.jpg'))

