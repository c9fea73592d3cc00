"""OpenMMLab adapters (mmdet, mmrotate, mmseg). Importing this package applies
:mod:`sargeo.mm.compat`; ``import sargeo`` alone never imports OpenMMLab."""

from sargeo.mm import compat

compat.apply()
