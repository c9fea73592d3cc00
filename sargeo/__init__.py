"""sargeo: SARMAE, a noise-aware masked-autoencoder foundation model for SAR imagery,
in the geospatial deep-learning stack (torchgeo, timm, OpenMMLab).

``import sargeo`` stays light: OpenMMLab, Lightning and the optical teacher are imported only
by the modules that use them (``sargeo.mm``, ``sargeo.pretrain``).
"""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
