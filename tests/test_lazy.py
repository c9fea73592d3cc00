"""Packages whose names load their module on first use (:mod:`sargeo._lazy`)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

from sargeo._lazy import lazy_exports


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package ``lazypkg`` whose ``shapes`` module exports ``Square`` and ``area``."""
    root = tmp_path / "lazypkg"
    root.mkdir()
    (root / "__init__.py").write_text(textwrap.dedent("""
        from sargeo._lazy import lazy_exports

        __all__, __getattr__ = lazy_exports(__name__, {"shapes": ("Square", "area")})
    """))
    (root / "shapes.py").write_text("class Square: ...\n\ndef area(side):\n    return side ** 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("lazypkg")
    for name in ("lazypkg", "lazypkg.shapes"):
        sys.modules.pop(name, None)


def test_a_name_loads_its_module_on_first_use(package):
    assert package.__all__ == ["Square", "area"]
    assert "lazypkg.shapes" not in sys.modules
    assert package.area(3) == 9
    assert package.Square is sys.modules["lazypkg.shapes"].Square


def test_an_unknown_name_raises_attribute_error_as_python_words_it(package):
    with pytest.raises(AttributeError, match=r"^module 'lazypkg' has no attribute 'Circle'$"):
        package.Circle  # noqa: B018
    assert not hasattr(package, "Circle")


def test_names_are_listed_in_module_order():
    names, _ = lazy_exports("pkg", {"a": ("X", "y"), "b": ("Z",)})
    assert names == ["X", "y", "Z"]


PACKAGES = ("sargeo.datasets", "sargeo.evaluation", "sargeo.inference")


def test_sargeo_packages_import_none_of_their_lazy_modules():
    code = (f"import sys, {', '.join(PACKAGES)}; "
            "print(sorted(m for m in sys.modules if m.rsplit('.', 1)[0] in "
            f"{PACKAGES!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "['sargeo.inference.windows']\n"  # plan_windows: imported eagerly


@pytest.mark.parametrize("name", PACKAGES)
def test_sargeo_packages_resolve_every_name_from_its_module(name):
    package = importlib.import_module(name)
    for exported in package.__all__:
        value = getattr(package, exported)
        assert value.__module__.startswith(name + "."), (exported, value.__module__)
