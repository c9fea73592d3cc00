"""SARMAE and SAR-W-MixMAE models: encoders, pretraining models, weights and their export.

The timm ViT encoder and its checkpoint mapping (:mod:`.vit`), MAE pieces (:mod:`.mae`), the
pretraining model (:mod:`.sarmae`) and SARE speckle noise (:mod:`.speckle`) are imported here;
the MixMIM encoder (:mod:`.swin`), MixMAE (:mod:`.mixmae`), the published weights
(:mod:`.weights`, :mod:`.mixmim_weights`) and the exports load with their modules.
"""

from sargeo.models.sarmae import SARMAE, SARMAEOutput
from sargeo.models.speckle import SpeckleNoise
from sargeo.models.vit import (
    CheckpointError,
    create_vit,
    encoder_state_dict,
    load_encoder_weights,
    read_checkpoint,
)

__all__ = ["SARMAE", "SARMAEOutput", "SpeckleNoise", "CheckpointError", "create_vit",
           "encoder_state_dict", "load_encoder_weights", "read_checkpoint"]
