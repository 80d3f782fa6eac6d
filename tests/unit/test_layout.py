"""The product stands without its tools: what a Dagster deployment loads is superhero_assets.

The operator's tools (superhero_tools: the CLI, local stack, simulator, bench, chaos, demo
and dev server) may import the product, never the other way round. No module of the
product names the tools, at the top of a file or inside a function, and every module of
it, the definitions first, imports with the tools made unimportable.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = "superhero_assets"
TOOLS = "superhero_tools"


def _is_tools(name: str) -> bool:
    return name == TOOLS or name.startswith(TOOLS + ".")


def tools_references(source: str) -> list[str]:
    """Each place `source` names the tools package: `import x`, `from x import y` (anywhere,
    function bodies included) and string constants such as `-m superhero_tools.cli` or
    `importlib.import_module("superhero_tools...")`, as `line: what`.

    Relative imports are not followed: from inside the product they stay inside it.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = node.value.split()[:1]
        else:
            continue
        found += [f"{node.lineno}: {name}" for name in names if _is_tools(name)]
    return found


def product_files() -> list[Path]:
    return sorted((ROOT / PRODUCT).rglob("*.py"))


def test_the_check_sees_every_form_of_import():
    source = textwrap.dedent(
        """
        import superhero_tools
        from superhero_tools.stack import procs
        import os, superhero_tools.simulator.wire as wire

        def later():
            from superhero_tools import bench
            return ["python", "-m", "superhero_tools.cli"]

        from . import superhero_tools_like
        import superhero_toolsmith
        """
    )
    assert tools_references(source) == [
        "2: superhero_tools",
        "3: superhero_tools.stack",
        "4: superhero_tools.simulator.wire",
        "7: superhero_tools",
        "8: superhero_tools.cli",
    ]


def test_no_module_of_the_product_imports_the_tools():
    files = product_files()
    assert len(files) > 30, files  # the walk found the product
    found = {
        str(path.relative_to(ROOT)): refs
        for path in files
        if (refs := tools_references(path.read_text()))
    }
    assert found == {}


# Run in a fresh interpreter: the tools package raises ImportError, as if it were not
# installed, and must not have been imported by the end.
_WITHOUT_TOOLS = """
import importlib
import pkgutil
import sys


class NoTools:
    def find_spec(self, name, path=None, target=None):
        if name == {tools!r} or name.startswith({tools!r} + "."):
            raise ImportError(f"{{name}}: the product imported the tools")
        return None


sys.meta_path.insert(0, NoTools())
import {product}.definitions as definitions

assert definitions.defs.resolve_asset_graph().get_all_asset_keys()
package = importlib.import_module({product!r})
for module in pkgutil.walk_packages(package.__path__, {product!r} + "."):
    importlib.import_module(module.name)
loaded = sorted(m for m in sys.modules if m == {tools!r} or m.startswith({tools!r} + "."))
assert not loaded, loaded
print(len([m for m in sys.modules if m.startswith({product!r} + ".")]))
"""


def test_the_definitions_load_with_the_tools_unimportable():
    code = _WITHOUT_TOOLS.format(tools=TOOLS, product=PRODUCT)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    # Every module of the product was imported, not just the definitions.
    assert int(done.stdout.split()[-1]) >= len(product_files()) - 1, done.stdout


# A newcomer reads a folder at a glance: about a dozen modules at most, sorted by job.
MAX_MODULES_PER_FOLDER = 12


def test_no_folder_of_the_product_holds_more_than_a_dozen_modules():
    crowded = {
        str(folder.relative_to(ROOT)): count
        for folder in [ROOT / PRODUCT, *(ROOT / PRODUCT).rglob("*/")]
        if folder.name != "__pycache__"
        and (count := len([m for m in folder.glob("*.py") if m.name != "__init__.py"]))
        > MAX_MODULES_PER_FOLDER
    }
    assert crowded == {}


def test_the_core_is_split_into_rooms_by_job():
    rooms = {p.name for p in (ROOT / PRODUCT / "core").iterdir() if (p / "__init__.py").is_file()}
    assert {"kafka", "parse", "store", "run", "quality"} <= rooms


def test_tests_share_helpers_through_the_support_module_only():
    """A test module never imports another: what tests share lives in tests/support/."""
    crossing = {
        str(path.relative_to(ROOT)): names
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        if (
            names := [
                node.module
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("tests.")
                and not node.module.startswith("tests.support")
            ]
        )
    }
    assert crossing == {}
