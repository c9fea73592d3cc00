# SARMAE ViT-B/16 + Faster R-CNN for ships on Sentinel-1 VV/VH scenes, trained from GeoTIFFs
# and a GeoPackage (sargeo GeoTileDataset). Same detector and optimiser family as the SSDD
# recipe (AdamW, layer decay 0.95, grad clip 1) at 256 px tiles and 2 input channels; the
# pretrained patch embedding is adapted from 3 channels (sum / 2).
_base_ = [
    './_base_/models/faster-rcnn_sarmae-vit-b16.py',
    './_base_/datasets/s1_ships_geo.py',
    './_base_/default_runtime.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
model = dict(
    data_preprocessor=dict(mean=None, std=None, bgr_to_rgb=False),
    backbone=dict(img_size=256, in_channels=2, drop_path_rate=0.1, pretrained=pretrained),
    rpn_head=dict(anchor_generator=dict(scales=[4])),  # ships are small: 16-128 px anchors
    roi_head=dict(bbox_head=dict(num_classes=1)))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='SARMAELayerDecayConstructor', paramwise_cfg=dict(decay_rate=0.95),
    clip_grad=dict(max_norm=1.0, norm_type=2))
max_epochs = 12
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11],
         gamma=0.1),
]
