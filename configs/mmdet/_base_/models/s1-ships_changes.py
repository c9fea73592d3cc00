# The changes a two-stage ship detector (this folder's Faster R-CNN, mmrotate's Oriented R-CNN)
# needs for Sentinel-1 VV/VH tiles (datasets/s1_ships_geo.py): 256 px tiles of 2 channels,
# already normalised in the pipeline (SARNormalize), so no mean/std in the data preprocessor;
# one class. Ships at 10 m are 5-30 px long and 2-5 px wide: 8 px base anchors at stride 4, and a
# low IoU floor so that every ship gets a positive anchor (with the 0.3 default a 6 px ship
# matches no anchor and the RPN never learns it).
# A config lists this file beside its model base and takes the changes as its model with
# `model = _base_.pop('s1_ships_changes')`: mmengine merges them into the base's model, and the
# pop keeps `s1_ships_changes` out of the resolved config (why: mmseg/_base_/vit-l16_changes.py).
s1_ships_changes = dict(
    data_preprocessor=dict(mean=None, std=None, bgr_to_rgb=False),
    backbone=dict(img_size=256, in_channels=2),
    rpn_head=dict(anchor_generator=dict(scales=[2])),
    roi_head=dict(bbox_head=dict(num_classes=1)),
    train_cfg=dict(
        rpn=dict(assigner=dict(pos_iou_thr=0.5, neg_iou_thr=0.3, min_pos_iou=0.1)),
        rcnn=dict(assigner=dict(pos_iou_thr=0.4, neg_iou_thr=0.4, min_pos_iou=0.4))))
