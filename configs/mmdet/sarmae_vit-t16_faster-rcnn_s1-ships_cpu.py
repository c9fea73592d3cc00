# A CPU-sized ship detector for Sentinel-1 VV/VH scenes: SARMAE ViT-Tiny/16 + Faster R-CNN with
# slim heads (64-channel pyramid, 256-wide box head) on 128 px tiles. `sargeo demo` pretrains
# the encoder with `sargeo pretrain`'s module on a simulated scene, then trains this detector
# from the scene and its GeoPackage (GeoTileDataset) and runs `sargeo infer` with it.
_base_ = './sarmae_vit-b16_faster-rcnn_s1-ships.py'
tile_size = 128
width = 64
pretrained = None  # the demo sets the path of its pretrained ViT-Tiny weights
model = dict(
    backbone=dict(arch='tiny', img_size=tile_size, drop_path_rate=0.0, pretrained=pretrained),
    neck=dict(in_channels=192, out_channels=width),
    rpn_head=dict(in_channels=width, feat_channels=width),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=width),
                  bbox_head=dict(in_channels=width, fc_out_channels=256)),
    # few ships per 128 px tile: fewer proposals and RoI samples than the 1024 px defaults
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=300),
                   rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100),
                  rcnn=dict(score_thr=0.05, max_per_img=50)))
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(tile_size=tile_size, length=4000))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(tile_size=tile_size))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=4e-4), paramwise_cfg=dict(decay_rate=0.9))
max_iters = 300
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=False, begin=50, end=max_iters),
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False),
                     logger=dict(type='LoggerHook', interval=50))
log_processor = dict(by_epoch=False)
