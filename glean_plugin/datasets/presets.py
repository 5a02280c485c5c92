"""What each GLEAN data set's prepared folders look like (pure data).

One :class:`DatasetPreset` per data set and split holds the layout the
configs read (``data_root``, GT folder, ``BIx<s>_down`` folders, meta-info
file) and how the GT is made from the source images. The values follow
MMagic's GLEAN data preparation (``tools/dataset_converters/glean``) and the
meta-info files GLEAN's authors publish (github.com/ckkelvinchan/GLEAN,
``data/*/meta_info_*_GT.txt``); ``tests/test_datasets`` checks them against
``configs/``.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

__all__ = ['FIT_MODES', 'DatasetPreset', 'PRESETS', 'get_preset']

# How a source image becomes a GT of the preset's shape (size x size, or
# height x width):
#   'exact'        refuse an image of another size (aligned faces);
#   'resize'       MATLAB-like bicubic resize of the whole image to the
#                  shape, aspect ratio not kept: GLEAN's protocol for
#                  every category but faces ("we resize the input image to
#                  the designated size using the MATLAB imresize function",
#                  GLEAN's data README; MMagic's converters do the same);
#   'center-crop'  crop the largest centred window of the shape's aspect
#                  ratio (a square for square GTs), as StyleGAN2's LSUN
#                  preprocessing does, then MATLAB-like resize it to the
#                  shape if it is not already (aspect ratio kept).
FIT_MODES = ('exact', 'resize', 'center-crop')


def _valid_size(size) -> bool:
    """A positive int, or a (height, width) tuple of positive ints."""
    sides = (size, ) if type(size) is int else size
    return (isinstance(sides, tuple) and len(sides) in (1, 2)
            and all(type(x) is int and x > 0 for x in sides)
            and (len(sides) == 2) == isinstance(size, tuple))


@dataclass(frozen=True)
class DatasetPreset:
    """Layout and GT protocol of one prepared data set split.

    Args:
        name (str): 'dataset/split', used in messages.
        data_root (str, optional): the configs' ``data_root``; None when the
            caller must name the output folder.
        gt_folder (str, optional): GT folder inside ``data_root`` (the
            configs' ``data_prefix['gt']``); None to leave the GT where the
            source is (the source folder then is the data prefix).
        meta_file (str): meta-info file inside ``data_root`` (``ann_file``).
        scales (tuple[int]): LR factors; LR images go to ``BIx<s>_down``.
        size (int | tuple[int, int], optional): side of the square GT
            (the configs' ``out_size``), or its (height, width) (e.g.
            (384, 512) for cars: the output shape of a GLEANNet with
            ``in_shape``); None keeps each image's size.
        fit (str): one of :data:`FIT_MODES`, used when an image does not
            have that shape.
        recursive (bool): also look for images in sub-folders of the source.
        limit (int, optional): take only the first ``limit`` images (in
            list order, or natural name order); None takes all.
        list_required (bool): the split is defined by a published list of
            names, so a list file must be given.
        source (str): what the source is and where it comes from.

    Raises:
        ValueError: unknown ``fit``, a non-positive scale, a ``size`` that is
            not a positive int or (height, width) pair, or one that a scale
            does not divide.
    """
    name: str
    data_root: Optional[str]
    gt_folder: Optional[str]
    meta_file: str
    scales: Tuple[int, ...]
    size: Union[int, Tuple[int, int], None] = None
    fit: str = 'exact'
    recursive: bool = True
    limit: Optional[int] = None
    list_required: bool = False
    source: str = ''

    def __post_init__(self):
        if self.fit not in FIT_MODES:
            raise ValueError(f'fit must be one of {FIT_MODES}, got '
                             f'{self.fit!r}')
        if not self.scales or any(
                not isinstance(s, int) or s < 2 for s in self.scales):
            raise ValueError(f'scales must be integers >= 2, got '
                             f'{self.scales!r}')
        if self.size is not None and not _valid_size(self.size):
            raise ValueError(f'size must be a positive int or a (height, '
                             f'width) tuple, got {self.size!r}')
        bad = [s for s in self.scales
               if self.shape and any(side % s for side in self.shape)]
        if bad:
            raise ValueError(f'size {self.size} is not divisible by scale '
                             f'{bad[0]}')
        if self.limit is not None and self.limit < 1:
            raise ValueError(f'limit must be >= 1 or None, got {self.limit}')

    @property
    def shape(self) -> Optional[Tuple[int, int]]:
        """(height, width) of the GT, or None to keep each image's."""
        if self.size is None:
            return None
        if isinstance(self.size, int):
            return self.size, self.size
        return tuple(self.size)

    @property
    def lr_folders(self) -> Dict[str, int]:
        """``{'BIx<s>_down': s}`` for every scale."""
        return {f'BIx{s}_down': s for s in self.scales}


# Source notes. LSUN: http://dl.yf.io/lsun (objects/cat.zip; scenes
# church_outdoor_{train,val}_lmdb.zip), each an LMDB folder with data.mdb
# whose values are encoded images (webp for cat, jpeg for church), keyed by
# a hex id; a folder of images exported from it (e.g. fyu/lsun's
# `data.py export`, nested folders) works too.
_LSUN_CAT_TRAIN = (
    'LSUN cat LMDB (folder with data.mdb) or its exported images; GLEAN '
    'trains on the ids listed in its meta_info_LSUNcat_GT.txt '
    '(github.com/ckkelvinchan/GLEAN, data/cat_train), pass it as --list')
_CAT100 = (
    'CAT dataset (Zhang et al., "Cat head detection", ECCV 2008; '
    'archive.org/details/CAT_DATASET, CAT_DATASET_02.zip: folder CAT_03) '
    'with GLEAN\'s Cat100 list meta_info_Cat100_GT.txt '
    '(github.com/ckkelvinchan/GLEAN, data/cat_test) as --list')
_CHURCH_TRAIN = ('LSUN church_outdoor_train_lmdb (folder with data.mdb) or '
                 'its exported images')
_CHURCH_TEST = ('LSUN church_outdoor_val_lmdb (300 images) or its exported '
                'images')
_FFHQ = ('FFHQ images1024x1024: 70,000 PNGs in sub-folders 00000..69000 '
         '(github.com/NVlabs/ffhq-dataset), or MMagic\'s flat ffhq/images')
_CELEBAHQ = (
    'CelebA-HQ 1024x1024 images; val100 is the first 100 in natural name '
    'order; GLEAN\'s list is 00001.png..00100.png '
    '(meta_info_CelebAHQ_val100_GT.txt at github.com/ckkelvinchan/GLEAN, '
    'data/CelebA-HQ), the same images when they are named by a 1-based '
    'index; pass --list otherwise')

_LSUN_CAR_TRAIN = (
    'LSUN car LMDB (objects/car.zip, a folder with data.mdb) or its '
    'exported images; the GLEAN authors publish no car list: all images '
    'are taken unless --list names some')
_CAR_TEST = (
    '100 held-out car photographs (e.g. Stanford Cars cars_test, '
    'ai.stanford.edu/~jkrause/cars); the GLEAN authors publish no car test '
    'list: the first 100 in natural name order are taken unless --list '
    'names others')

# Side of the LSUN GT images and of the FFHQ / CelebA-HQ GT images: the
# output resolution of the StyleGAN2 latent banks the configs load.
LSUN_SIZE = 256
FACE_SIZE = 1024
# (height, width) of the car GT: the LSUN car StyleGAN2's images (512 wide,
# 4:3, padded to 512x512 with black rows by the generator's training).
CAR_SHAPE = (384, 512)
# The paper's test set size per category.
CAR_TEST_IMAGES = 100
# The paper's CelebA-HQ test set size.
CELEBAHQ_VAL_IMAGES = 100

PRESETS: Dict[str, Dict[str, DatasetPreset]] = {
    'cat': {
        'train':
        DatasetPreset('cat/train', 'data/cat_train', 'GT',
                      'meta_info_LSUNcat_GT.txt', (8, 16), LSUN_SIZE,
                      'resize', source=_LSUN_CAT_TRAIN),
        'test':
        DatasetPreset('cat/test', 'data/cat_test', 'GT',
                      'meta_info_Cat100_GT.txt', (8, 16), LSUN_SIZE,
                      'resize', list_required=True, source=_CAT100),
    },
    'car': {
        'train':
        DatasetPreset('car/train', 'data/car_train', 'GT',
                      'meta_info_LSUNcar_GT.txt', (8, 16), CAR_SHAPE,
                      'resize', source=_LSUN_CAR_TRAIN),
        'test':
        DatasetPreset('car/test', 'data/car_test', 'GT',
                      'meta_info_Car100_GT.txt', (8, 16), CAR_SHAPE,
                      'resize', limit=CAR_TEST_IMAGES, source=_CAR_TEST),
    },
    'church': {
        'train':
        DatasetPreset('church/train', 'data/church_train', 'GT',
                      'meta_info_LSUNchurch_GT.txt', (16, ), LSUN_SIZE,
                      'resize', source=_CHURCH_TRAIN),
        'test':
        DatasetPreset('church/test', 'data/church_test', 'GT',
                      'meta_info_LSUNchurch_test_GT.txt', (16, ), LSUN_SIZE,
                      'resize', source=_CHURCH_TEST),
    },
    'ffhq': {
        'train':
        DatasetPreset('ffhq/train', 'data/ffhq', 'images',
                      'meta_info_FFHQ_GT.txt', (16, 64), FACE_SIZE, 'exact',
                      source=_FFHQ),
    },
    'celebahq': {
        'test':
        DatasetPreset('celebahq/test', 'data/CelebA-HQ', 'GT',
                      'meta_info_CelebAHQ_val100_GT.txt', (16, 64),
                      FACE_SIZE, 'exact', limit=CELEBAHQ_VAL_IMAGES,
                      source=_CELEBAHQ),
    },
    'folder': {
        'all':
        DatasetPreset('folder', None, 'GT', 'meta_info_GT.txt', (8, ),
                      recursive=False,
                      source='any folder of images whose sides every '
                      'scale divides'),
    },
}


def get_preset(dataset: str, split: Optional[str] = None) -> DatasetPreset:
    """The preset of ``dataset`` ('cat', 'car', 'church', 'ffhq',
    'celebahq', 'folder') and ``split`` (default: its first split, e.g.
    'train').

    Raises:
        ValueError: unknown data set or split, naming the known ones.
    """
    if dataset not in PRESETS:
        raise ValueError(f'unknown data set {dataset!r}; expected one of '
                         f'{sorted(PRESETS)}')
    splits = PRESETS[dataset]
    if split is None:
        split = next(iter(splits))
    if split not in splits:
        raise ValueError(f'{dataset} has splits {sorted(splits)}, got '
                         f'{split!r}')
    return splits[split]
