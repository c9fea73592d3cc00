# SARMAE ViT-B/16 + Faster R-CNN on SSDD (paper Table 2, SSDD column: COCO box AP).
# Optimisation as the published SARMAE SSDD config: AdamW lr 5e-5, betas (0.9, 0.999), weight
# decay 0.1, layer-wise lr decay 0.95, grad clip 1, 36 epochs with steps at 22/30/34 and a
# linear warm-up of 800 iterations from 1/3; 608 px inputs; drop path 0.3. The published
# detector is a Mask R-CNN with focal-loss RoI classification; sargeo uses Faster R-CNN (SSDD's
# COCO release has boxes only). The published config also lists custom_keys with a backbone
# lr_mult of 0.08; its layer-decay constructor (LayerDecayOptimizerConstructor_ViT_Old) never
# reads custom_keys, so the backbone learned at the layer-decayed base lr and sargeo does too.
_base_ = [
    './_base_/models/faster-rcnn_sarmae-vit-b16.py',
    './_base_/datasets/ssdd_coco.py',
    './_base_/default_runtime.py',
    './_base_/schedules/adamw_layer-decay.py',
    './_base_/schedules/schedule_12e.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'  # or a path to any SARMAE/MAE checkpoint
model = dict(
    backbone=dict(img_size=608, drop_path_rate=0.3, pretrained=pretrained),
    roi_head=dict(bbox_head=dict(num_classes=1)))
optim_wrapper = dict(optimizer=dict(lr=5e-5, weight_decay=0.1))
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=1 / 3, by_epoch=False, begin=0, end=800),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[22, 30, 34],
         gamma=0.1),
]
# published runs: 1 image per GPU on 8 GPUs
auto_scale_lr = dict(enable=False, base_batch_size=8)
