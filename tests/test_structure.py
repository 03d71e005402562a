"""The package's shape, checked from its source: no import cycle between its modules (imports inside functions
count) and no function too long to read at once."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dwaca"
MAX_FUNCTION_LINES = 100


def _modules(package):
    """{dotted module name: path} of every module of ``package`` (a folder; a package by its __init__)."""
    found = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _targets(name, path, node, modules):
    """The modules an import statement of module ``name`` (file ``path``) names: a submodule where it names one,
    otherwise the package it takes a name from."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level else ""
    base = ".".join(p for p in (base, node.module) if p)
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]


def _imported(name, path, node, modules):
    """The package modules an import statement makes Python run or read from: each target and the packages on the
    way to it (importing a.b.c runs a, a.b and a.b.c), except the importer's own ancestors on the way, which are
    already running."""
    found = set()
    for target in _targets(name, path, node, modules):
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            module = ".".join(parts[:i])
            on_the_way = i < len(parts) and name.startswith(module + ".")
            if module in modules and module != name and not on_the_way:
                found.add(module)
    return found


def import_graph(package=PACKAGE):
    modules = _modules(package)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = set().union(*(_imported(name, path, node, modules) for node in ast.walk(tree)
                                    if isinstance(node, (ast.Import, ast.ImportFrom))))
    return graph


def find_cycle(graph):
    """One import cycle as [a, b, ..., a], or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, trail + [nxt])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_imports_inside_functions_and_names_taken_from_a_package(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .x import f\nTHING = 1\n")
    (pkg / "sub" / "x.py").write_text("def f():\n    from . import THING\n    return THING\n")
    (pkg / "y.py").write_text("from .sub.x import f\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub.x"] == {"pkg.sub"}  # inside a function, from its own package's __init__
    assert graph["pkg.y"] == {"pkg.sub", "pkg.sub.x"}  # the package on the way runs too
    assert find_cycle(graph) == ["pkg.sub", "pkg.sub.x", "pkg.sub"]


def test_no_import_cycle_in_the_package():
    assert find_cycle(import_graph()) is None


def test_the_bottom_layer_imports_nothing_else_from_the_package():
    graph = import_graph()
    for name, imported in graph.items():
        if name.startswith("dwaca.utils"):
            assert all(m.startswith("dwaca.utils") for m in imported), (name, imported)


def test_no_function_is_too_long_to_read_at_once():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long
