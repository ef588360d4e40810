"""The package's layers (CONTRIBUTING.md): imports point down only, and the public API is narrow.

Read from the source with ``ast``, so a deferred import inside a function counts like one at
the top of the module: it breaks a circle at import time, not in the design.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

from django_doku_checkout import services

ROOT = Path(__file__).parents[1]
PACKAGE = "django_doku_checkout"

#: The edges: they call the services and nothing below them may. The composition root
#: (``apps``, which connects the after-response hook), the URLconf, the template tags and
#: the pytest plugin are edges too: each serves a caller (Django, a template, a test).
EDGES = (
    "admin",
    "api",
    "apps",
    "health_view",
    "jobs",
    "management",
    "reconciliation",
    "simulator",
    "tasks",
    "templatetags",
    "testing",
    "urls",
    "views",
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path) -> Iterator[str]:
    """The package's modules that ``module`` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                # ``from package import module`` imports the module; ``from module import name`` the module.
                if f"{source}.{alias.name}" in MODULES:
                    yield f"{source}.{alias.name}"
                elif source in MODULES:
                    yield source


def import_graph() -> dict[str, set[str]]:
    return {module: set(_imported(module, path)) - {module} for module, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle: the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_the_graph_sees_deferred_and_relative_imports():
    graph = import_graph()
    assert f"{PACKAGE}.services.deliveries" in graph[f"{PACKAGE}.services"]  # ``from ... import deliver_due``
    assert f"{PACKAGE}.services.after_response" in graph[f"{PACKAGE}.apps"]  # inside ready()
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(import_graph()) == []


def test_nothing_below_the_services_imports_them():
    upward = sorted(
        f"{module} imports {imported}"
        for module, imports in import_graph().items()
        if _layer(module) not in ("services", *EDGES)
        for imported in imports
        if _layer(imported) == "services"
    )
    assert upward == []


def test_the_pure_layers_never_reach_the_orm():
    graph = import_graph()
    # The settings are read and checked before any model exists (system checks, the docs' hook).
    settings_modules = {
        f"{PACKAGE}.{name}" for name in ("signatures", "client", "conf", "settings_table", "setting_rules")
    }
    pure = [module for module in graph if module in settings_modules or _layer(module) == "payloads"]
    assert len(pure) > len(settings_modules)  # the payloads package's modules are among them
    for module in pure:
        assert not [imported for imported in graph[module] if _layer(imported) == "models"], module


def test_the_json_api_imports_nothing_from_the_views():
    assert f"{PACKAGE}.views" not in import_graph()[f"{PACKAGE}.api"]


#: What design.md's public contract names in the services; they stay exported.
DESIGN_CONTRACT = {
    "create_payment_link",
    "check_status",
    "handle_notification",
    "create_order",
    "cancel_order",
    "refund_payment",
}


def test_the_services_export_the_contract_a_shop_calls_each_documented():
    exported = [getattr(services, name) for name in services.__all__]
    functions = [obj for obj in exported if inspect.isfunction(obj)]
    assert set(services.__all__) >= DESIGN_CONTRACT
    assert 12 <= len(functions) <= 18, sorted(services.__all__)
    assert len(services.__all__) <= 26, sorted(services.__all__)
    assert sorted(services.__all__) == sorted(set(services.__all__))
    undocumented = [obj.__name__ for obj in exported if not (inspect.getdoc(obj) or "").strip()]
    assert undocumented == []
    # Everything exported is the services' own, not a model or a helper passed through.
    assert all(obj.__module__.startswith(f"{PACKAGE}.services.") for obj in exported)


def test_the_api_reference_publishes_no_internal_services_module():
    pages = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "docs" / "reference").glob("*.md"))
    published = set(re.findall(rf"^::: ({PACKAGE}\.services\S*)", pages, flags=re.MULTILINE))
    assert published == {f"{PACKAGE}.services"}


#: A module, and a function, a reader takes in at once (CONTRIBUTING.md, "Size"). Ruff's
#: ``C90`` holds the branching (max complexity 15); these hold the length, which ruff cannot.
#: Migrations are generated, not read (``_modules`` leaves them out).
MODULE_LINES = 420
FUNCTION_LINES = 60


def test_modules_and_functions_stay_small():
    too_long = []
    for name, path in _modules().items():
        source = path.read_text()
        if source.count("\n") > MODULE_LINES:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []
