"""Interfaces import products, products import core; never sideways or up."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "veedel"

INTERFACES = {"cli", "api", "web"}
PRODUCTS = {
    "experiments",
    "segments",
    "imagefilter",
    "text",
    "drivers",
    "channels",
    "feed",
}


def _layer(module: str) -> tuple[str, str]:
    top = module.split(".")[1] if module.count(".") else ""
    if top in INTERFACES:
        return "interface", top
    if top in PRODUCTS:
        return "product", top
    return "core", top


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("veedel.")}


def test_imports_follow_the_layers() -> None:
    """No core module imports a product or an interface; no product imports another."""
    broken: list[str] = []
    for path in PACKAGE.rglob("*.py"):
        module = "veedel." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        kind, top = _layer(module)
        for target in _imports(path):
            target_kind, target_top = _layer(target)
            upward = kind == "core" and target_kind != "core"
            product_up = kind == "product" and target_kind == "interface"
            sideways = (
                kind == "product" and target_kind == "product" and target_top != top
            )
            if upward or product_up or sideways:
                broken.append(f"{module} imports {target}")
    assert broken == []
