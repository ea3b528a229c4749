"""The layering holds: read from every module's imports (with ast), not from a list kept by hand.

The application (postersearch.app) wires the libraries; the libraries expose no command
line and never import it; search_service imports neither ingest nor web_ui; web_ui
imports only search_service and the shared core. See docs/architecture.md.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = "postersearch.app"
LIBRARIES = ("encoder_service", "ingest", "poster_index", "search_service", "web_ui")
PROJECT = (*LIBRARIES, "postersearch")

# Which project packages each package may import, besides itself and the shared core
# (postersearch outside postersearch.app).
ALLOWED: dict[str, set[str]] = {
    "encoder_service": set(),
    "poster_index": set(),
    "ingest": {"encoder_service", "poster_index"},
    "search_service": {"encoder_service", "poster_index"},
    "web_ui": {"search_service"},
    "postersearch": set(),
}


def _package_of(module: str) -> str:
    if module == APP or module.startswith(APP + "."):
        return APP
    return module.split(".")[0]


def _modules() -> Iterator[tuple[str, Path]]:
    for top in PROJECT:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "v1" in path.relative_to(ROOT).parts:
                continue  # generated stubs
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def _imports(path: Path) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for each project import of path."""
    tree = ast.parse(path.read_text(), filename=str(path))
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function.update(id(inner) for inner in ast.walk(node) if inner is not node)
    for node in ast.walk(tree):
        names: list[str] = []
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif node.module and node.level == 0:
            names = [node.module]
            # "from postersearch import app" imports the app too.
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in PROJECT:
                yield name, node.lineno, id(node) in in_function


def _violations(modules: Iterable[tuple[str, Path]]) -> list[str]:
    found: list[str] = []
    for module, path in modules:
        package = _package_of(module)
        for imported, line, _ in _imports(path):
            target = _package_of(imported)
            where = f"{path.name}:{line} ({module}) imports {imported}"
            if target == APP and package != APP:
                found.append(f"{where}: only the application imports {APP}")
            elif package != APP and target not in {package, "postersearch", *ALLOWED[package]}:
                found.append(f"{where}: {package} may not import {target}")
    return found


def test_the_layers_import_only_what_they_may() -> None:
    assert _violations(_modules()) == []


def test_the_libraries_expose_no_command_line() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for module, path in _modules()
        if _package_of(module) != APP
        and ("add_subparsers" in path.read_text() or path.stem.endswith("cli"))
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("search_service.fake", "from web_ui.app import create_app", True),
        ("search_service.fake", "def f():\n    import ingest.worker", True),
        ("web_ui.fake", "from encoder_service.client import GrpcEncoder", True),
        ("poster_index.fake", "from postersearch import app", True),
        ("ingest.fake", "from postersearch.app.wiring import open_index", True),
        ("web_ui.fake", "from search_service.core import PosterSearch", False),
        ("postersearch.app.fake", "from web_ui.app import create_app", False),
        ("ingest.fake", "from postersearch.domain import Poster", False),
    ],
)
def test_the_checker_tells_a_broken_rule(
    tmp_path: Path, module: str, source: str, broken: bool
) -> None:
    path = tmp_path / "fake.py"
    path.write_text(source + "\n")
    assert bool(_violations([(module, path)])) is broken
