"""Register sargeo's models with torchgeo and timm when (and only when) their model registries
are imported, so that ``import sargeo`` stays light yet ``torchgeo.models.get_model(
"sarmae_vit_b16")`` and ``timm.create_model("sarmae_vit_base_patch16")`` work after it.

A :class:`importlib.abc.MetaPathFinder` waits for the named modules and, right after one has
executed, imports :mod:`sargeo.models.weights`, whose import registers everything.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

#: modules whose import makes sargeo register its models
TRIGGERS = ("torchgeo.models.api", "timm.models")


def _register() -> None:
    weights = importlib.import_module("sargeo.models.weights")  # registers with timm
    weights.register_torchgeo()


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec):  # noqa: ANN001
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _register()


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


def install() -> None:
    """Register now if a trigger is already imported, else when it is."""
    if any(name in sys.modules for name in TRIGGERS):
        _register()
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())
