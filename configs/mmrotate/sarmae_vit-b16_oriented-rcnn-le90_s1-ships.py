# SARMAE ViT-B/16 + Oriented R-CNN (le90) for ships on Sentinel-1 VV/VH scenes, trained from
# GeoTIFFs and a GeoPackage of ship outlines. Optimisation as the RSAR recipe.
_base_ = [
    './_base_/oriented-rcnn-le90_sarmae-vit-b16.py',
    './_base_/s1_ships_geo.py',
    './_base_/default_runtime.py',
    '../mmdet/_base_/schedules/adamw_layer-decay.py',
    '../mmdet/_base_/schedules/schedule_12e.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
model = dict(
    data_preprocessor=dict(mean=None, std=None, bgr_to_rgb=False),
    backbone=dict(img_size=256, in_channels=2, pretrained=pretrained),
    # small ships: 8 px base anchors and a low IoU floor (see the mmdet s1-ships config)
    rpn_head=dict(anchor_generator=dict(scales=[2])),
    roi_head=dict(bbox_head=dict(num_classes=1)),
    train_cfg=dict(
        rpn=dict(assigner=dict(pos_iou_thr=0.5, neg_iou_thr=0.3, min_pos_iou=0.1)),
        rcnn=dict(assigner=dict(pos_iou_thr=0.4, neg_iou_thr=0.4, min_pos_iou=0.4))))
optim_wrapper = dict(clip_grad=dict(max_norm=35))
