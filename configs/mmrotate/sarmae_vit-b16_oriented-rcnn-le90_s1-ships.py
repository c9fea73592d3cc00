# SARMAE ViT-B/16 + Oriented R-CNN (le90) for ships on Sentinel-1 VV/VH scenes, trained from
# GeoTIFFs and a GeoPackage of ship outlines. Optimisation as the RSAR recipe.
_base_ = [
    './_base_/oriented-rcnn-le90_sarmae-vit-b16.py',
    '../mmdet/_base_/models/s1-ships_changes.py',
    './_base_/s1_ships_geo.py',
    './_base_/default_runtime.py',
    '../mmdet/_base_/schedules/adamw_layer-decay.py',
    '../mmdet/_base_/schedules/schedule_12e.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
# 2 channels, 256 px tiles, small-ship anchors and IoU floors, as the mmdet s1-ships detector
model = _base_.pop('s1_ships_changes')
model.backbone.pretrained = pretrained
optim_wrapper = dict(clip_grad=dict(max_norm=35))
