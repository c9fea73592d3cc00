# Oriented R-CNN (Xie et al., ICCV 2021) with the SARMAE ViT-B/16 backbone, le90 boxes:
# mmrotate 1.x's oriented-rcnn-le90_r50_fpn settings (midpoint-offset RPN, rotated RoIAlign,
# DeltaXYWHT box coder with edge swap, rotated NMS 0.1 at test time), with the ResNet-50 + FPN
# replaced by sargeo's SARMAEViT + SimpleFeaturePyramid as in the published SARMAE RSAR config.
angle_version = 'le90'
model = dict(
    type='mmdet.FasterRCNN',
    data_preprocessor=dict(
        type='mmdet.DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32,
        boxtype2tensor=False),
    backbone=dict(type='SARMAEViT', arch='base', img_size=800, in_channels=3,
                  out_indices=(-1,), drop_path_rate=0.3, with_cls_token=False, pretrained=None),
    neck=dict(type='SimpleFeaturePyramid', in_channels=768, out_channels=256,
              scales=(4, 2, 1, 0.5), num_outs=5),
    rpn_head=dict(
        type='OrientedRPNHead', in_channels=256, feat_channels=256,
        anchor_generator=dict(type='mmdet.AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                              strides=[4, 8, 16, 32, 64], use_box_type=True),
        bbox_coder=dict(type='MidpointOffsetCoder', angle_version=angle_version,
                        target_means=[0.0] * 6, target_stds=[1.0, 1.0, 1.0, 1.0, 0.5, 0.5]),
        loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='mmdet.SmoothL1Loss', beta=0.1111111111111111, loss_weight=1.0)),
    roi_head=dict(
        type='mmdet.StandardRoIHead',
        bbox_roi_extractor=dict(
            type='RotatedSingleRoIExtractor',
            roi_layer=dict(type='RoIAlignRotated', out_size=7, sample_num=2, clockwise=True),
            out_channels=256, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='mmdet.Shared2FCBBoxHead', predict_box_type='rbox', in_channels=256,
            fc_out_channels=1024, roi_feat_size=7, num_classes=6,
            reg_predictor_cfg=dict(type='mmdet.Linear'),
            cls_predictor_cfg=dict(type='mmdet.Linear'),
            bbox_coder=dict(type='DeltaXYWHTRBBoxCoder', angle_version=angle_version,
                            norm_factor=None, edge_swap=True, proj_xy=True,
                            target_means=(0.0, 0.0, 0.0, 0.0, 0.0),
                            target_stds=(0.1, 0.1, 0.2, 0.2, 0.1)),
            reg_class_agnostic=True,
            loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='mmdet.SmoothL1Loss', beta=1.0, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='mmdet.MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                          min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1,
                          iou_calculator=dict(type='RBbox2HBboxOverlaps2D')),
            sampler=dict(type='mmdet.RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                         add_gt_as_proposals=False),
            allowed_border=0, pos_weight=-1, debug=False),
        rpn_proposal=dict(nms_pre=2000, max_per_img=2000,
                          nms=dict(type='nms', iou_threshold=0.8), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='mmdet.MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                          min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1,
                          iou_calculator=dict(type='RBboxOverlaps2D')),
            sampler=dict(type='mmdet.RandomSampler', num=512, pos_fraction=0.25,
                         neg_pos_ub=-1, add_gt_as_proposals=True),
            pos_weight=-1, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=2000, max_per_img=2000, nms=dict(type='nms', iou_threshold=0.8),
                 min_bbox_size=0),
        rcnn=dict(nms_pre=2000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms_rotated', iou_threshold=0.1), max_per_img=2000)))
