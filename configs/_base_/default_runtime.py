# Runtime shared by every GLEAN config: MMagic's defaults plus the plugin.
_base_ = 'mmagic::_base_/default_runtime.py'

custom_imports = dict(imports=['glean_plugin'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(
        _delete_=True,
        type='CheckpointHook',
        interval=5000,
        by_epoch=False,
        save_optimizer=True,
        max_keep_ckpts=10,
        save_best='PSNR',
        rule='greater'),
)
# GLEAN is evaluated on RGB images: no visualisation hook by default.
custom_hooks = []
