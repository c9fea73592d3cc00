# Runtime of sargeo's mmseg configs (mmseg 1.x defaults): the shared runtime with mmseg's
# visualiser, iteration-based logs and test-time augmentation wrapper (the hooks are in the
# schedule, as in mmseg).
_base_ = '../../_base_/default_runtime.py'
default_scope = 'mmseg'
visualizer = dict(type='SegLocalVisualizer', vis_backends={{_base_.vis_backends}},
                  name='visualizer')
log_processor = dict(by_epoch=False)
tta_model = dict(type='SegTTAModel')
