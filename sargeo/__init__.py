"""sargeo: SARMAE, a noise-aware masked-autoencoder foundation model for SAR imagery,
in the geospatial deep-learning stack (torchgeo, timm, OpenMMLab).

``import sargeo`` stays light: torch, torchgeo, timm, OpenMMLab and Lightning are imported only by
the modules that use them. sargeo's models appear in torchgeo's and timm's registries as soon as
those are imported (see :mod:`sargeo._registration`).
"""

__version__ = "0.1.0.dev0"

from sargeo import _registration  # noqa: E402

_registration.install()  # torchgeo / timm learn sargeo's models when they are imported

__all__ = ["__version__"]
