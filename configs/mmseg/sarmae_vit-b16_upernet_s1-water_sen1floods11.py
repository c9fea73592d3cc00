# SARMAE ViT-B/16 + UPerNet for water on Sen1Floods11 (Bonafilia et al., CVPRW 2020) as
# distributed: `S1/<id>_S1Hand.tif` (VV, VH in dB, NaN nodata, EPSG:4326, ~10 m) and
# `Labels/<id>_LabelHand.tif` (1 water, 0 land, -1 no data; no nodata tag) under data_root.
# The Sentinel-1 water recipe (sarmae_vit-b16_upernet_s1-water.py: model, loss, schedule),
# with the labels read as rasters (GeoTileDataset label_type='raster', nearest neighbour onto
# each tile, -1 and pixels outside every label chip ignored: 255) and the dB chips read as
# linear power, like every other Sentinel-1 scene (SARNormalize then turns them into dB).
# Training skips tiles without one labelled pixel (an all-NaN chip, an all -1 label chip).
# Point it at your copy (train and validation may read different roots, e.g. the train and
# test splits; the GCS hand-labelled set names its folders S1Hand/ and LabelHand/):
#   sargeo mm train configs/mmseg/sarmae_vit-b16_upernet_s1-water_sen1floods11.py \
#     --cfg-options train_dataloader.dataset.data_root=DIR/ val_dataloader.dataset.data_root=DIR/
_base_ = ['./sarmae_vit-b16_upernet_s1-water.py']
data_root = 'data/sen1floods11/'
classes = ('background', 'water')
tile_size = 256
_dataset = dict(type='GeoTileDataset', data_root=data_root, scenes='S1/', labels='Labels/',
                label_type='raster', ignore_value=-1, scenes_in_db=True, task='segmentation',
                classes=classes, bands=('VV', 'VH'), tile_size=tile_size, ignore_index=255)
train_dataloader = dict(dataset=dict(_delete_=True, **_dataset, sampler='random', length=4000,
                                     seed=0, pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(dataset=dict(_delete_=True, **_dataset, sampler='grid',
                                   pipeline={{_base_.test_pipeline}}, test_mode=True))
test_dataloader = val_dataloader
