# SARMAE ViT-B/16 + UPerNet for water on Sentinel-1 VV/VH scenes, trained from GeoTIFFs and a
# GeoPackage of water polygons (sargeo GeoTileDataset, task 'segmentation': classes background
# and water, 255 outside every scene). Loss and schedule as the published AIR-PolSAR-Seg water
# recipe (class weights 0.3 / 3.0, Dice 1.5, layer decay 0.9), shortened to 20k iterations.
_base_ = [
    './_base_/upernet_sarmae-vit-b16_water.py',
    './_base_/s1_water_geo.py',
    './_base_/schedule_80k.py',
    './_base_/default_runtime.py',
]
tile_size = 256
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
model = dict(
    data_preprocessor=dict(mean=None, std=None, bgr_to_rgb=False, size=(tile_size, tile_size)),
    backbone=dict(img_size=tile_size, in_channels=2, pretrained=pretrained),
    test_cfg=dict(mode='whole'))
optim_wrapper = dict(optimizer=dict(lr=8e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=False, begin=1000, end=20000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000, val_interval=2000)
