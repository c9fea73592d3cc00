# The optimiser of sargeo's detection configs (mmdet and mmrotate): AdamW (betas 0.9/0.999,
# weight decay 0.05) with SARMAE layer-wise lr decay 0.95 and gradient clipping at norm 1.
# Each config states only what its published recipe changes (lr, weight decay, decay rate, clip).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='SARMAELayerDecayConstructor', paramwise_cfg=dict(decay_rate=0.95),
    clip_grad=dict(max_norm=1.0, norm_type=2))
