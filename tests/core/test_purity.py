"""The core stays pure: no docker, trio or rich, no sockets, threads or clock."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "bakery" / "core"
FORBIDDEN = {
    "docker",
    "trio",
    "rich",
    "subprocess",
    "socket",
    "threading",
    "time",
    "datetime",
    "bakery.engine",
    "bakery.report",
    "bakery.cli",
    "bakery.project",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


# Every module of the core, those of packages inside it included: a glob of the top
# folder alone would let a subpackage import docker unseen.
MODULES = sorted(CORE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_nothing_impure(path: Path) -> None:
    bad = {n for n in _imports(path) for f in FORBIDDEN if n == f or n.startswith(f + ".")}
    assert not bad, f"{path.relative_to(CORE)} imports {sorted(bad)}"


def test_importing_the_core_loads_no_impure_module() -> None:
    modules = [_module_name(p) for p in MODULES]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(','.join(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('docker', 'trio', 'rich'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
