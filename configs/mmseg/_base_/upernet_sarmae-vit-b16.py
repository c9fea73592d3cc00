# UPerNet (Xiao et al., ECCV 2018) on the SARMAE ViT-B/16, as the published SARMAE
# segmentation config: outputs of blocks 3/5/7/11 rescaled to strides 4/8/16/32 (sargeo's
# SimpleFeaturePyramid without convs; 768 channels at every level), UPerHead (pool scales
# 1,2,3,6; 512 channels; dropout 0.1) with cross-entropy 1.0 + Dice 0.5, auxiliary FCN head on
# level 2 (cross-entropy 0.4). Inputs normalised with mean 127.5 / std 127.5 (to [-1, 1]).
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5, 127.5, 127.5],
                           std=[127.5, 127.5, 127.5], bgr_to_rgb=False, pad_val=0,
                           seg_pad_val=255, size=(512, 512)),
    backbone=dict(type='SARMAEViT', arch='base', img_size=512, in_channels=3,
                  out_indices=(3, 5, 7, 11), drop_path_rate=0.1, with_cls_token=False,
                  pretrained=None),
    neck=dict(type='SimpleFeaturePyramid', in_channels=768, out_channels=None,
              scales=(4, 2, 1, 0.5), keep_channels=True),
    decode_head=dict(
        type='UPerHead', in_channels=[768, 768, 768, 768], in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6), channels=512, dropout_ratio=0.1, num_classes=6,
        norm_cfg=norm_cfg, align_corners=False,
        loss_decode=[dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                     dict(type='DiceLoss', naive_dice=False, loss_weight=0.5)]),
    auxiliary_head=dict(
        type='FCNHead', in_channels=768, in_index=2, channels=256, num_convs=1,
        concat_input=False, dropout_ratio=0.1, num_classes=6, norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    # sliding-window inference over whole images, crop 512 / stride 384 (published)
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(384, 384)))
