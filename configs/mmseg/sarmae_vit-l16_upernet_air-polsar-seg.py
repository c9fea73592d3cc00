# SARMAE ViT-L/16 + UPerNet on AIR-PolSAR-Seg, six classes. Published: blocks 5/11/17/23,
# drop path 0.2, lr 6e-5, layer decay 0.9, 1 image per GPU.
_base_ = ['./sarmae_vit-b16_upernet_air-polsar-seg.py', './_base_/vit-l16_changes.py']
pretrained = 'torchgeo:SARMAE_ViTL16_Weights.SAR1M'
model = _base_.pop('vit_l16_changes')  # the large encoder (_base_/vit-l16_changes.py)
model.backbone.pretrained = pretrained
train_dataloader = dict(batch_size=1)
