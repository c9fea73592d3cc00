# Runtime of sargeo's mmrotate configs (mmrotate 1.x defaults): the mmdet runtime in the
# mmrotate scope, without a best checkpoint, with mmrotate's rotated-box visualiser.
_base_ = '../../mmdet/_base_/default_runtime.py'
default_scope = 'mmrotate'
default_hooks = dict(
    checkpoint=dict(_delete_=True, type='CheckpointHook', interval=1, max_keep_ckpts=3),
    visualization=dict(type='mmdet.DetVisualizationHook'))
visualizer = dict(type='RotLocalVisualizer')
