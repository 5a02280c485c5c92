# Runtime shared by every GLEAN config: MMagic's defaults plus the plugin.
_base_ = 'mmagic::_base_/default_runtime.py'

custom_imports = dict(imports=['glean_plugin'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    # mmengine's CheckpointHook, but a kill never leaves a truncated
    # checkpoint or last_checkpoint (glean_plugin/engine/hooks.py)
    checkpoint=dict(
        _delete_=True,
        type='AtomicCheckpointHook',
        interval=5000,
        by_epoch=False,
        save_optimizer=True,
        max_keep_ckpts=10,
        save_best='PSNR',
        rule='greater'),
)
# GLEAN is evaluated on RGB images: no visualisation hook by default.
# FiniteLossHook stops training at the first NaN/Inf loss, before the bad
# weights are saved. A leaf's custom_hooks replace this list; the tools add
# the hook back where it is missing (engine.config.add_finite_loss_hook).
custom_hooks = [dict(type='FiniteLossHook')]
