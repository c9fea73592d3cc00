"""OpenMMLab adapters: sargeo's backbones, neck, optimiser and transforms for mmdet/mmseg/mmrotate.

The ``SARMAEViT`` and ``SARMixMIMSwin`` (SAR-W-MixMAE) backbones, the ``SimpleFeaturePyramid``
neck, the ``SARMAELayerDecayConstructor`` optimizer constructor, the ``SARNormalize`` and
``InputBorder`` pipeline transforms and the torchgeo bridge datasets, all registered in
mmengine's root registries so configs of all three packages can name them.

Importing this package applies :mod:`sargeo.mm.compat`; ``import sargeo`` alone never imports
OpenMMLab.
"""

from sargeo.mm import compat

compat.apply()

from sargeo.mm.backbone import SARMAEViT  # noqa: E402
from sargeo.mm.border import InputBorder  # noqa: E402
from sargeo.mm.geo_dataset import GeoTileDataset  # noqa: E402
from sargeo.mm.layer_decay import SARMAELayerDecayConstructor  # noqa: E402
from sargeo.mm.neck import SimpleFeaturePyramid  # noqa: E402
from sargeo.mm.swin_backbone import SARMixMIMSwin  # noqa: E402
from sargeo.mm.transforms import SARNormalize  # noqa: E402

__all__ = ["GeoTileDataset", "InputBorder", "SARMAEViT", "SARMAELayerDecayConstructor",
           "SARMixMIMSwin", "SARNormalize", "SimpleFeaturePyramid"]
