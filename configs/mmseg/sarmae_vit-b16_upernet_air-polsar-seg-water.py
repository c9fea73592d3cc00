# SARMAE ViT-B/16 + UPerNet on AIR-PolSAR-Seg water vs background (paper Table 3: water IoU).
# Published water recipe: classes (background, Water) from train_set_water/test_set_water,
# class weights 0.3/3.0 in both cross-entropies, Dice weight 1.5, no random resize or rotation,
# sliding stride 341, lr 8e-5.
_base_ = [
    './_base_/upernet_sarmae-vit-b16_water.py',
    './_base_/air_polsar_seg.py',
    './_base_/schedule_80k.py',
    './_base_/default_runtime.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
metainfo = dict(classes=('background', 'Water'), palette=[[0, 0, 0], [0, 0, 255]])
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(
    metainfo=metainfo, pipeline=train_pipeline,
    data_prefix=dict(img_path='train_set/images', seg_map_path='train_set_water/annotations')))
val_dataloader = dict(dataset=dict(
    metainfo=metainfo,
    data_prefix=dict(img_path='test_set/images', seg_map_path='test_set_water/annotations')))
test_dataloader = val_dataloader
model = dict(backbone=dict(pretrained=pretrained),
             test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
optim_wrapper = dict(optimizer=dict(lr=8e-5))
