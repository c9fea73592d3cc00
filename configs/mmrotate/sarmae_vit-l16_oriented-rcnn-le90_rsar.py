# SARMAE ViT-L/16 + Oriented R-CNN (le90) on RSAR: the ViT-B/16 recipe with the large encoder
# (published RSAR ViT-L config: same optimisation and schedule).
_base_ = './sarmae_vit-b16_oriented-rcnn-le90_rsar.py'
pretrained = 'torchgeo:SARMAE_ViTL16_Weights.SAR1M'
model = dict(backbone=dict(arch='large', pretrained=pretrained, with_cp=True),
             neck=dict(in_channels=1024))
