"""Faces in photos: detect (OpenCV's Haar cascades, offline), align
(similarity from the eyes, else the detection box), super-resolve with a
GLEAN face model, paste back with a feathered mask.

Example::

    from glean_plugin.apis import InferenceSettings, init_generator
    from glean_plugin.faces import restore_faces
    generator = init_generator('configs/glean_ffhq_16x.py', 'ffhq_16x.pth')
    settings = InferenceSettings.from_config('configs/glean_ffhq_16x.py')
    result = restore_faces(generator, photo_rgb_uint8, settings)
    result.photo  # the photo enlarged 16x, its faces by GLEAN

``tools/restore_faces.py`` does the same from a file to a folder.
"""
from .align import (BOX_CROP_SCALE, EYE_TEMPLATE, FEATHER, box_alignment,
                    compose, eye_alignment, feather_mask, invert, paste,
                    resize_matrix, similarity_from_points, transform_points,
                    transform_scale, warp_crop)
from .detect import FaceDetection, detect_faces, pick_eye_pair
from .files import FaceFiles, face_report, restore_faces_file
from .restore import (MAX_OUTPUT_PIXELS, STATUSES, FaceLimits, FaceRestoration,
                      FaceResult, restore_faces, upscale_photo)

__all__ = [
    'BOX_CROP_SCALE', 'EYE_TEMPLATE', 'FEATHER', 'MAX_OUTPUT_PIXELS',
    'STATUSES', 'FaceDetection', 'FaceFiles', 'FaceLimits', 'FaceResult',
    'FaceRestoration', 'box_alignment', 'compose', 'detect_faces',
    'eye_alignment', 'face_report', 'feather_mask', 'invert', 'paste',
    'pick_eye_pair', 'resize_matrix', 'restore_faces', 'restore_faces_file',
    'similarity_from_points', 'transform_points', 'transform_scale',
    'upscale_photo', 'warp_crop'
]
