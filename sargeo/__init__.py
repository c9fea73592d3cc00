"""sargeo: the SARMAE foundation model for SAR in torchgeo, timm and OpenMMLab.

SARMAE is a noise-aware masked-autoencoder foundation model for SAR imagery; sargeo brings it
into the geospatial deep-learning stack (torchgeo, timm, OpenMMLab).

``import sargeo`` stays light: torch, torchgeo, timm, OpenMMLab and Lightning are imported only by
the modules that use them. sargeo's models appear in torchgeo's and timm's registries whatever
the import order: at once for a registry already imported, else as soon as it is imported (see
:mod:`sargeo._registration`). :func:`register` does it explicitly, now.
"""

__version__ = "0.1.0.dev0"

from sargeo import _registration  # noqa: E402


def register() -> list[str]:
    """Register sargeo's models with timm (``sarmae_vit_base_patch16``, ...,
    ``sar_w_mixmae_base_patch4_128``) and torchgeo (``sarmae_vit_b16``, ``sarmae_vit_l16``,
    ``sar_w_mixmae_base`` and their weights) now; idempotent.

    Imports timm and torchgeo. ``import sargeo`` already does the same lazily, in any import
    order; call this to be explicit. Returns the torchgeo model names.
    """
    return _registration.register()


_registration.install()  # registers with timm / torchgeo now or when they are imported

from sargeo.threads import set_threads  # noqa: E402  (light: torch loads on first call)

__all__ = ["__version__", "register", "set_threads"]
