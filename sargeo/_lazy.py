"""Light package imports: a package's names load their module on first use.

A package ``__init__`` lists which of its modules exports which names::

    __all__, __getattr__ = lazy_exports(__name__, {"labels": ("VectorLabels", "LabelError")})

``import sargeo.datasets`` then imports none of its modules; ``sargeo.datasets.VectorLabels``
imports ``sargeo.datasets.labels`` (PEP 562's module ``__getattr__``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, modules: dict[str, tuple[str, ...]]
                 ) -> tuple[list[str], Callable[[str], Any]]:
    """The names that ``modules`` (module name relative to ``package`` -> names it exports)
    offer, and a module ``__getattr__`` that imports a name's module when it is first asked
    for; any other name raises :class:`AttributeError` as Python words it."""
    home = {name: f"{package}.{module}" for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name in home:
            return getattr(importlib.import_module(home[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return list(home), __getattr__
