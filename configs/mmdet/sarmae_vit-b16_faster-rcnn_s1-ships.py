# SARMAE ViT-B/16 + Faster R-CNN for ships on Sentinel-1 VV/VH scenes, trained from GeoTIFFs
# and a GeoPackage (sargeo GeoTileDataset). Same detector and optimiser family as the SSDD
# recipe (AdamW, layer decay 0.95, grad clip 1) at 256 px tiles and 2 input channels; the
# pretrained patch embedding is adapted from 3 channels (sum / 2).
_base_ = [
    './_base_/models/faster-rcnn_sarmae-vit-b16.py',
    './_base_/datasets/s1_ships_geo.py',
    './_base_/default_runtime.py',
    './_base_/schedules/adamw_layer-decay.py',
    './_base_/schedules/schedule_12e.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
model = dict(
    data_preprocessor=dict(mean=None, std=None, bgr_to_rgb=False),
    backbone=dict(img_size=256, in_channels=2, drop_path_rate=0.1, pretrained=pretrained),
    # Sentinel-1 ships at 10 m are 5-30 px long and 2-5 px wide: 8 px base anchors at stride
    # 4, and a low IoU floor so that every ship gets a positive anchor (with the 0.3 default a
    # 6 px ship matches no anchor and the RPN never learns it)
    rpn_head=dict(anchor_generator=dict(scales=[2])),
    roi_head=dict(bbox_head=dict(num_classes=1)),
    train_cfg=dict(
        rpn=dict(assigner=dict(pos_iou_thr=0.5, neg_iou_thr=0.3, min_pos_iou=0.1)),
        rcnn=dict(assigner=dict(pos_iou_thr=0.4, neg_iou_thr=0.4, min_pos_iou=0.4))))
