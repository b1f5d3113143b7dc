"""The plugin's modules depend on each other one way: no import circle, few deferred imports.

Imports inside functions count as edges too: a circle hidden in a function
is still a circle. The one exception is a deferred ``workers.tasks`` import
that starts a task (Wagtail does the same): tasks call services, and
services enqueue tasks.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cms", "petition_blocks", "workers")
MAX_DEFERRED_IMPORTS = 12
#: What the models may import of the plugin at module level: settings, stores and plain helpers.
#: (The blocks a page's StreamField is made of are allowed too.)
MODEL_LAYER_ALLOWED = {
    "cms",
    "cms.conf",
    "cms.degraded",
    "cms.share_cards",  # draws and serves a page's share card; it imports no model (arrows run one way)
    "cms.store",
    "cms.forms",
    "cms.tokens",
    "cms.addresses",
    "cms.permissions",
    "cms.translations",  # which page a translation counts on; it reads Wagtail's pages, none of ours
    "cms.identity",  # a campaign's identity: validators and a value object; it imports no model
}


def _modules():
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _known(name):
    """The longest prefix of a dotted name that is one of our modules, or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module, node):
    """Our modules an import statement loads, with the packages it loads them through."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join(package + ([node.module] if node.module else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    targets = set()
    for name in names:
        target = _known(name)
        if target is None:
            continue
        targets.add(target)
        # Importing a.b.c runs a/__init__ and a/b/__init__ first (unless we are inside them already).
        parts = target.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if not (module == parent or module.startswith(parent + ".")):
                targets.add(parent)
    return targets


def _graph():
    edges, deferred, top_level = defaultdict(set), [], defaultdict(set)
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        in_function = set()
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                in_function.update(
                    id(node) for node in ast.walk(function) if isinstance(node, ast.Import | ast.ImportFrom)
                )
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets = _targets(module, node) - {module}
            if id(node) in in_function:
                deferred.append(f"{module}: {ast.unparse(node)}")
                if targets <= {"workers", "workers.tasks"}:
                    continue  # starting a task: the allowed exception
            else:
                top_level[module] |= targets
            edges[module] |= targets
    return edges, deferred, top_level


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.add(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(MODULES):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle_among_the_plugins_modules():
    edges, _, _ = _graph()
    assert _cycles(edges) == []


def test_at_most_a_dozen_imports_inside_functions():
    _, deferred, _ = _graph()
    assert len(deferred) <= MAX_DEFERRED_IMPORTS, "\n".join(deferred)


def test_models_do_not_import_services_counters_or_the_rate_limiter():
    _, _, top_level = _graph()
    for module, targets in top_level.items():
        if module == "cms.models" or module.startswith("cms.models."):
            ours = {target for target in targets if not target.startswith(("cms.models", "petition_blocks"))}
            assert ours <= MODEL_LAYER_ALLOWED, f"{module} imports {sorted(ours - MODEL_LAYER_ALLOWED)}"


def test_the_store_imports_only_settings():
    _, _, top_level = _graph()
    assert top_level["cms.store"] <= {"cms", "cms.conf"}


def test_the_graph_check_sees_a_circle_hidden_in_a_function():
    edges = defaultdict(set, {"cms.a": {"cms.b"}, "cms.b": {"cms.a"}})
    MODULES.setdefault("cms.a", None)
    MODULES.setdefault("cms.b", None)
    try:
        assert _cycles(edges) == [["cms.a", "cms.b"]]
    finally:
        del MODULES["cms.a"], MODULES["cms.b"]
