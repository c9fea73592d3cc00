# SARMAE ViT-B/16 + Oriented R-CNN (le90) on RSAR (paper Table 2, RSAR column: mAP@0.5).
# Published SARMAE RSAR config: AdamW lr 1e-4, weight decay 0.05, layer decay 0.95, grad clip
# 35, 12 epochs with steps at 8/11, linear warm-up 1000 iterations from 1/3, 800 px, drop path
# 0.3, 1 image per GPU.
_base_ = [
    './_base_/oriented-rcnn-le90_sarmae-vit-b16.py',
    './_base_/rsar_dota.py',
    './_base_/default_runtime.py',
    '../mmdet/_base_/schedules/adamw_layer-decay.py',
    '../mmdet/_base_/schedules/schedule_12e.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
model = dict(backbone=dict(img_size=800, drop_path_rate=0.3, pretrained=pretrained))
optim_wrapper = dict(clip_grad=dict(max_norm=35))
param_scheduler = [
    dict(type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end={{_base_.max_epochs}}, by_epoch=True,
         milestones=[8, 11], gamma=0.1),
]
train_dataloader = dict(batch_size=1)
auto_scale_lr = dict(enable=False, base_batch_size=8)
