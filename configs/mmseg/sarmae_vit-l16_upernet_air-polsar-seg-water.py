# SARMAE ViT-L/16 + UPerNet, AIR-PolSAR-Seg water: the ViT-B water recipe with the large
# encoder (published: blocks 5/11/17/23, drop path 0.2, lr 4e-5, 1 image per GPU).
_base_ = ['./sarmae_vit-b16_upernet_air-polsar-seg-water.py', './_base_/vit-l16_changes.py']
pretrained = 'torchgeo:SARMAE_ViTL16_Weights.SAR1M'
model = _base_.pop('vit_l16_changes')  # the large encoder (_base_/vit-l16_changes.py)
model.backbone.pretrained = pretrained
optim_wrapper = dict(optimizer=dict(lr=4e-5))
train_dataloader = dict(batch_size=1)
