# The changes that turn upernet_sarmae-vit-b16.py into the published SARMAE ViT-L/16 UPerNet:
# the large encoder (24 blocks, 1024 channels) with outputs of blocks 5/11/17/23, drop path 0.2
# and gradient checkpointing; 1024 channels into the neck and both heads.
# A config lists this file after its ViT-B/16 config and takes the changes as its model with
# `model = _base_.pop('vit_l16_changes')` (below its own `_base_ = [...]`, a config's `_base_` is
# the merged variables of its bases, as mmengine documents for `_base_.name`): mmengine merges
# them into the ViT-B/16 model, and the pop keeps `vit_l16_changes` out of the resolved config.
# Why not a `model` here: mmengine refuses two bases that define the same variable ("Duplicate
# key is not allowed among bases"), and every variable of a base stays a key of the configs
# below it (only names starting with `__` are dropped, and those never reach a child).
vit_l16_changes = dict(
    backbone=dict(arch='large', out_indices=(5, 11, 17, 23), drop_path_rate=0.2, with_cp=True),
    neck=dict(in_channels=1024),
    decode_head=dict(in_channels=[1024, 1024, 1024, 1024]),
    auxiliary_head=dict(in_channels=1024))
