# Runtime shared by sargeo's mmdet, mmrotate and mmseg configs: sargeo's modules imported,
# OpenMMLab's default environment, local visualisation backend, no checkpoint loaded. Each
# framework's default_runtime.py adds its scope, hooks, visualiser and log processor.
custom_imports = dict(imports=['sargeo.mm'], allow_failed_imports=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
log_level = 'INFO'
load_from = None
resume = False
