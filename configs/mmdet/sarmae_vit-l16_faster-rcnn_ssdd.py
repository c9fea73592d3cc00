# SARMAE ViT-L/16 + Faster R-CNN on SSDD: the ViT-B/16 recipe with the large encoder
# (published SSDD ViT-L config: same optimisation, drop path 0.3, last block output).
_base_ = './sarmae_vit-b16_faster-rcnn_ssdd.py'
pretrained = 'torchgeo:SARMAE_ViTL16_Weights.SAR1M'
model = dict(
    backbone=dict(arch='large', pretrained=pretrained, with_cp=True),
    neck=dict(in_channels=1024))
