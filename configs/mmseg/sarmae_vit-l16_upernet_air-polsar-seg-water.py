# SARMAE ViT-L/16 + UPerNet, AIR-PolSAR-Seg water: the ViT-B water recipe with the large
# encoder (published: blocks 5/11/17/23, drop path 0.2, lr 4e-5, 1 image per GPU).
_base_ = './sarmae_vit-b16_upernet_air-polsar-seg-water.py'
pretrained = 'torchgeo:SARMAE_ViTL16_Weights.SAR1M'
model = dict(
    backbone=dict(arch='large', out_indices=(5, 11, 17, 23), drop_path_rate=0.2,
                  pretrained=pretrained, with_cp=True),
    neck=dict(in_channels=1024),
    decode_head=dict(in_channels=[1024, 1024, 1024, 1024]),
    auxiliary_head=dict(in_channels=1024))
optim_wrapper = dict(optimizer=dict(lr=4e-5))
train_dataloader = dict(batch_size=1)
