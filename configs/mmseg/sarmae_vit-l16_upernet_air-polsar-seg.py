# SARMAE ViT-L/16 + UPerNet on AIR-PolSAR-Seg, six classes. Published: blocks 5/11/17/23,
# drop path 0.2, lr 6e-5, layer decay 0.9, 1 image per GPU.
_base_ = './sarmae_vit-b16_upernet_air-polsar-seg.py'
pretrained = 'torchgeo:SARMAE_ViTL16_Weights.SAR1M'
model = dict(
    backbone=dict(arch='large', out_indices=(5, 11, 17, 23), drop_path_rate=0.2,
                  pretrained=pretrained, with_cp=True),
    neck=dict(in_channels=1024),
    decode_head=dict(in_channels=[1024, 1024, 1024, 1024]),
    auxiliary_head=dict(in_channels=1024))
train_dataloader = dict(batch_size=1)
