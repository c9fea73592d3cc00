# SARMAE ViT-L/16 + Faster R-CNN on SARDet-100K. Published ViT-L config: AdamW lr 1e-5, weight
# decay 0.05, layer decay 0.95, grad clip 35, 12 epochs with steps at 8/11, warm-up 1000
# iterations from 1/3, drop path 0.3, gradient checkpointing, 2 images per GPU.
_base_ = './sarmae_vit-b16_faster-rcnn_sardet100k.py'
pretrained = 'torchgeo:SARMAE_ViTL16_Weights.SAR1M'
model = dict(
    backbone=dict(arch='large', drop_path_rate=0.3, pretrained=pretrained, with_cp=True),
    neck=dict(in_channels=1024))
optim_wrapper = dict(optimizer=dict(lr=1e-5), paramwise_cfg=dict(decay_rate=0.95),
                     clip_grad=dict(max_norm=35, norm_type=2))
max_epochs = 12
param_scheduler = [
    dict(type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11],
         gamma=0.1),
]
train_dataloader = dict(batch_size=2)
auto_scale_lr = dict(enable=False, base_batch_size=16)
