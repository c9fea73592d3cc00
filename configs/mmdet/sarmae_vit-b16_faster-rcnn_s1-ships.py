# SARMAE ViT-B/16 + Faster R-CNN for ships on Sentinel-1 VV/VH scenes, trained from GeoTIFFs
# and a GeoPackage (sargeo GeoTileDataset). Same detector and optimiser family as the SSDD
# recipe (AdamW, layer decay 0.95, grad clip 1) at 256 px tiles and 2 input channels; the
# pretrained patch embedding is adapted from 3 channels (sum / 2).
_base_ = [
    './_base_/models/faster-rcnn_sarmae-vit-b16.py',
    './_base_/models/s1-ships_changes.py',
    './_base_/datasets/s1_ships_geo.py',
    './_base_/default_runtime.py',
    './_base_/schedules/adamw_layer-decay.py',
    './_base_/schedules/schedule_12e.py',
]
pretrained = 'torchgeo:SARMAE_ViTB16_Weights.SAR1M'
# 2 channels, 256 px tiles, small-ship anchors and IoU floors (_base_/models/s1-ships_changes.py)
model = _base_.pop('s1_ships_changes')
model.backbone.update(drop_path_rate=0.1, pretrained=pretrained)
