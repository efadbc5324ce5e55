"""The installed `pipelines` package is the product: the fixture generator stays in the source checkout.

The generator (`fixtures/model_company/`) writes the demo's and the tests' fixtures; it is not shipped in the
wheel, no product module imports it, and `mlcost fixtures` finds it in a checkout or says where it lives.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import setuptools

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO / "fixtures" / "model_company"


def packaged_modules() -> set[str]:
    """Every package and module a wheel of this checkout holds, found as setuptools finds them at build time:
    pyproject's `[tool.setuptools.packages.find]`, which finds namespace packages unless `namespaces = false`."""
    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    discover = (
        setuptools.find_namespace_packages if find.get("namespaces", True) else setuptools.find_packages
    )
    where = REPO / find.get("where", ["."])[0]
    packages = discover(where=str(where), include=find.get("include", ["*"]), exclude=find.get("exclude", []))
    modules = set(packages)
    for package in packages:
        folder = where.joinpath(*package.split("."))
        modules |= {f"{package}.{f.stem}" for f in folder.glob("*.py") if f.stem != "__init__"}
    return modules


def is_generator(module: str) -> bool:
    parts = module.split(".")
    return "model_company" in parts or parts[0] == "fixtures"


def test_the_wheel_holds_the_product_and_no_generator_module() -> None:
    modules = packaged_modules()
    # The discovery does find the product (so the second assertion cannot pass on an empty list).
    assert {"pipelines", "pipelines.cli", "pipelines.definitions", "pipelines.billing.ingest"} <= modules
    # The old layout shipped pipelines.model_company and its 19 modules here.
    assert sorted(m for m in modules if is_generator(m)) == []
    # ...and the generator is where the checkout's tests, `make fixtures` and the benchmark import it from.
    assert (GENERATOR / "__init__.py").is_file() and (GENERATOR / "scaled.py").is_file()


def test_no_product_module_imports_the_generator() -> None:
    """Dependencies point generator → product only; `mlcost fixtures` loads it by name (importlib), lazily."""
    found = []
    for path in sorted((REPO / "pipelines").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            found += [f"{path.relative_to(REPO)}:{node.lineno}: {n}" for n in names if is_generator(n)]
    # The old layout: pipelines/cli/main.py imported `from pipelines import model_company`.
    assert found == []


def installed_copy(tmp_path: Path) -> Path:
    """`pipelines` alone in a folder, as a wheel installs it into site-packages (no fixtures/ beside it)."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "pipelines", site / "pipelines", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def mlcost(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`mlcost ARGS` run from `cwd` with the `pipelines` of `site`; -P keeps the current folder off sys.path,
    as for the installed `mlcost` script (which puts only its own bin folder there)."""
    code = (
        "import sys, pipelines; from pipelines.cli import main; "
        "print(pipelines.__file__, file=sys.stderr); sys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-P", "-c", code, *args],
        cwd=cwd, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_fixtures_without_a_checkout_says_where_the_generator_lives(tmp_path: Path) -> None:
    site, elsewhere = installed_copy(tmp_path), tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    result = mlcost(site, elsewhere, "fixtures", "--out", str(out), "--lines", "1000")
    loaded_from, *lines = result.stderr.splitlines()
    assert loaded_from == str(site / "pipelines" / "__init__.py")
    assert result.returncode == 2
    assert lines == [
        "mlcost: error: the fixture generator is not installed with mlcost: it lives in the source "
        "checkout's fixtures/model_company/; run `mlcost fixtures` (or `make fixtures`) inside a clone "
        "of the mlcost repository"
    ]
    assert result.stdout == "" and not out.exists()


def test_fixtures_run_inside_a_clone_use_its_generator(tmp_path: Path) -> None:
    """An installed mlcost, run from the checkout's folder, finds fixtures/model_company there."""
    site, out = installed_copy(tmp_path), tmp_path / "out"
    result = mlcost(site, REPO, "fixtures", "--out", str(out), "--lines", "1000")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.splitlines()[0] == str(site / "pipelines" / "__init__.py")
    cur2 = json.loads((out / "answers.json").read_text())["billing_periods"]["2026-10"]["cur2"]
    assert cur2["lines"] == 1000
    # After the progress lines (one per file written) and "fixtures written to …": the period's summary.
    summary = next(line for line in result.stdout.splitlines() if line.startswith("  2026-10:"))
    assert summary == (
        f"  2026-10: 1,000 lines, billed {cur2['billed_cost']:,.2f}, effective {cur2['effective_cost']:,.2f} USD"
    )
