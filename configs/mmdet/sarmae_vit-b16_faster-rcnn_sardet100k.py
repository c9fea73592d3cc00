# SARMAE ViT-B/16 + Faster R-CNN on SARDet-100K (paper Table 2, SARDet-100K column: COCO box
# AP). Published SARMAE SARDet-100k ViT-B config: AdamW lr 1e-4, weight decay 0.05, layer decay
# 0.9, grad clip 1.0, 12 epochs with steps at 10/11, linear warm-up 2000 iterations from 0.1,
# 1024 px, drop path 0.1, 1 image per GPU. (It uses a Cascade R-CNN; sargeo's configs use the
# Faster R-CNN of the ViT-L run for both sizes.)
_base_ = [
    './_base_/models/faster-rcnn_sarmae-vit-b16.py',
    './_base_/datasets/sardet100k_coco.py',
    './_base_/default_runtime.py',
    './_base_/schedules/adamw_layer-decay.py',
    './_base_/schedules/schedule_12e.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
model = dict(
    backbone=dict(img_size=1024, drop_path_rate=0.1, pretrained=pretrained),
    roi_head=dict(bbox_head=dict(num_classes=6)))
optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2000),
    dict(type='MultiStepLR', begin=0, end={{_base_.max_epochs}}, by_epoch=True,
         milestones=[10, 11], gamma=0.1),
]
train_dataloader = dict(batch_size=1)
auto_scale_lr = dict(enable=False, base_batch_size=8)
