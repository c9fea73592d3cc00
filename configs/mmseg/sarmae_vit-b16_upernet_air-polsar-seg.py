# SARMAE ViT-B/16 + UPerNet on AIR-PolSAR-Seg, six classes (paper Table 3: mIoU).
# Published: lr 6e-5, layer decay 0.9, 80k iterations, 2 images per GPU, drop path 0.1.
_base_ = [
    './_base_/upernet_sarmae-vit-b16.py',
    './_base_/air_polsar_seg.py',
    './_base_/schedule_80k.py',
    './_base_/default_runtime.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
model = dict(backbone=dict(pretrained=pretrained))
