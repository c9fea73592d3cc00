"""Registration of sargeo's models with torchgeo and timm, whatever the import order.

- :func:`register` (public as ``sargeo.register()``) imports timm and torchgeo and registers now;
  it is idempotent.
- :func:`install` (run by ``import sargeo``, which must stay light) registers now with
  whichever of timm / torchgeo is already imported and, through an import hook, with the other
  as soon as it is imported. So ``import timm; import sargeo; import torchgeo.models``,
  ``import torchgeo.models; import sargeo`` and ``import sargeo; import timm`` all end with
  ``torchgeo.models.get_model("sarmae_vit_b16")`` and ``timm.create_model(
  "sarmae_vit_base_patch16")`` working.

The hook is a :class:`importlib.abc.MetaPathFinder` that waits for the modules in
:data:`TRIGGERS` and, right after one has executed, imports :mod:`sargeo.models.weights` (whose
import registers with timm) and extends torchgeo's registry.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from types import ModuleType
from typing import Any

#: modules whose import makes sargeo register its models
TRIGGERS = ("torchgeo.models.api", "timm.models")


def _register_available() -> None:
    """Register with timm, and with torchgeo if its registry module is fully imported."""
    weights = importlib.import_module("sargeo.models.weights")  # registers with timm
    weights.register_torchgeo()


def register() -> list[str]:
    """Register sargeo's models with timm and torchgeo now (idempotent); returns the torchgeo
    model names it registered.

    Imports timm and torchgeo. ``import sargeo`` does the same lazily (see :func:`install`), so
    call this only to be explicit, e.g. before handing ``"sarmae_vit_b16"`` to code that uses
    torchgeo's registry.
    """
    importlib.import_module("torchgeo.models.api")
    weights = importlib.import_module("sargeo.models.weights")
    if not weights.register_torchgeo():
        raise RuntimeError("torchgeo.models.api is imported but has no model registry "
                           "(_model_weights): this torchgeo version is not supported")
    return list(weights.TORCHGEO_MODELS)


class _Loader(importlib.abc.Loader):
    """Runs the real loader, then registers."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self.inner, name)

    def create_module(self, spec):  # noqa: ANN001
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # the module keeps its real loader (importlib.resources and pickle look at it)
        module.__loader__ = self.inner
        if module.__spec__ is not None:
            module.__spec__.loader = self.inner
        self.inner.exec_module(module)
        _register_available()


class _AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001
        if fullname not in TRIGGERS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


def watch() -> None:
    """Install the import hook (once) for the triggers not imported yet."""
    if not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())


def install() -> None:
    """Register now with what is imported, and later with what is imported later."""
    watch()
    if any(name in sys.modules for name in TRIGGERS):
        _register_available()
