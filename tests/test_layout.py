"""The code layout stays true: which package may import which, read from the source with ast.

The rules are the ones each package's ``__init__`` states. Every import counts (at module
level, inside a function, or for type checking only), and so it does for the packages'
graph, which has no cycle; the modules' own cycle check looks only at imports that run
when a module is loaded. No module is longer than ``MAX_LINES``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CROSS_CUTTING = ("rpa.errors", "rpa.redact", "rpa.logs", "rpa.patterns", "rpa.text", "rpa.smtp",
                 "rpa.otp")
SUBPACKAGES = ("rpa.messaging", "rpa.mail", "rpa.config", "rpa.ledger", "rpa.browser",
               "rpa.owner", "rpa.run", "rpa.seller_central", "rpa.practice", "rpa.console",
               "rpa.scheduling")

# The packages bottom to top: each imports only packages of the layers below its own (the
# cross-cutting modules may also import each other). ``flows`` sit on the machinery; the
# scheduler, the console, the demo and the CLI start runs from above.
LAYERS: tuple[tuple[str, ...], ...] = (
    CROSS_CUTTING,
    ("rpa.mail", "rpa.messaging"),  # the mailbox; what may be said to a buyer
    ("rpa.config",),  # validates reply, messaging and mail rules
    ("rpa.ledger", "rpa.browser"),  # the memory across runs; Chromium and the selectors
    ("rpa.owner",),
    ("rpa.run",),
    ("rpa.seller_central",),
    ("flows",),
    ("rpa.scheduling",),
    ("rpa.console",),
    ("rpa.practice",),
    ("rpa.cli",),
)
# importer -> the only project modules it may import, besides its own package (what its
# ``__init__`` allows, so a package added later is kept out without naming it here).
ONLY_FROM: dict[str, tuple[str, ...]] = {
    **{base: CROSS_CUTTING for base in CROSS_CUTTING},
    "rpa.mail": CROSS_CUTTING,
    "rpa.messaging": CROSS_CUTTING,
    # The configuration validates reply, messaging and mail rules, and needs nothing else.
    "rpa.config": (*CROSS_CUTTING, "rpa.messaging", "rpa.mail.rules"),
    "rpa.ledger": CROSS_CUTTING,
    "rpa.browser": (*CROSS_CUTTING, "rpa.config"),
    # The owner's answers go to buyers: checked with Amazon's messaging rules.
    "rpa.owner": (*CROSS_CUTTING, "rpa.config", "rpa.ledger", "rpa.messaging"),
    "rpa.run": (*CROSS_CUTTING, "rpa.config", "rpa.ledger", "rpa.browser", "rpa.owner"),
    # Of the run machinery, Seller Central's pages take only the context they are given.
    "rpa.seller_central": (*CROSS_CUTTING, "rpa.config", "rpa.messaging", "rpa.browser",
                           "rpa.run.context"),
    "rpa.scheduling": (*CROSS_CUTTING, "rpa.config", "rpa.run"),
}
# importer (module or package prefix) -> what it must never import, though below it
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # The console drives runs through the orchestrator; it never reaches into pages or
    # mail itself, nor loads flows.
    "rpa.console": ("rpa.seller_central", "rpa.mail", "flows"),
    # The sandbox and the throwaway mail server stand apart from the bot they exercise:
    # sharing its code would let one bug hide in both.
    "rpa.practice.sandbox": ("rpa", "flows"),
    "rpa.practice.dovecot": ("rpa",),
    "rpa.practice.mailcorpus": ("rpa",),
    "rpa.practice.receiver": ("rpa",),
    "rpa.practice.smtpserver": ("rpa",),
    "rpa.practice.postgres": ("rpa",),
    "rpa.practice.redis": ("rpa",),
}
# No module is longer than this, but sample data.
MAX_LINES = 500
LONG_MODULES = {
    "rpa/practice/mailcorpus.py",  # sample data: mails for the demo and the tests
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or package)
    line: int
    at_load: bool  # runs when the module is loaded (not in a function, not typing-only)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    files = [*(ROOT / "rpa").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]
    return {module_name(p): p for p in sorted(files)}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """Every import of a project module in ``path``, resolved to the module it names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def add(target: str, line: int, at_load: bool) -> None:
        if target.split(".")[0] in ("rpa", "flows"):
            found.append(Import(name, target, line, at_load))

    def visit(node: ast.AST, at_load: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, child.lineno, at_load)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    add(sub if sub in known else base, child.lineno, at_load)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                visit(child, False)
            else:
                visit(child, at_load)

    visit(tree, True)
    return found


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def all_imports() -> list[Import]:
    modules = project_modules()
    known = set(modules)
    return [imp for name, path in modules.items() for imp in imports_of(name, path, known)]


def package_of(module: str) -> str:
    """The node a module is in the packages' graph: ``flows`` for a flow, else what it is
    in ``rpa``: a subpackage (``rpa.run``), a cross-cutting module, ``rpa.config`` or
    ``rpa.cli`` (the same whether a module or a package)."""
    parts = module.split(".")
    return ".".join(parts[:1] if parts[0] == "flows" else parts[:2])


def layer_of(module: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if any(within(module, prefix) for prefix in layer):
            return i
    return None


def layout_violations(imports: list[Import]) -> list[str]:
    """Each import that breaks a rule, as 'file:line: source imports target (why)'."""
    bad: list[str] = []

    def report(imp: Import, why: str) -> None:
        bad.append(f"{imp.source}:{imp.line}: imports {imp.target} ({why})")

    for imp in imports:
        source, target = layer_of(imp.source), layer_of(imp.target)
        if source is not None and target is not None \
                and package_of(imp.source) != package_of(imp.target) \
                and (target > source or (target == source and source > 0)):
            report(imp, f"{package_of(imp.target)} is not below {package_of(imp.source)}")
        for importer, banned in FORBIDDEN.items():
            if within(imp.source, importer):
                for prefix in banned:
                    if within(imp.target, prefix) and not within(imp.target, importer):
                        report(imp, f"{importer} must not import {prefix}")
        for importer, allowed in ONLY_FROM.items():
            if within(imp.source, importer) and not within(imp.target, importer) \
                    and not any(within(imp.target, ok) for ok in allowed):
                report(imp, f"{importer} imports only {', '.join(allowed)}")
        if within(imp.target, "flows") and within(imp.source, "rpa"):
            report(imp, "flows are plugins, loaded by their entry points: rpa never names them")
        if within(imp.target, "rpa.practice") and not within(imp.source, "rpa.practice"):
            if not within(imp.source, "rpa.cli"):
                report(imp, "practice is imported only by the CLI, the demo and tests")
            elif imp.at_load:
                report(imp, "the CLI imports practice only in the commands that use it")
    return bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return cycles


def package_cycles(imports: list[Import]) -> list[list[str]]:
    """Cycles among packages (:func:`package_of`), counting every import: at load time,
    inside a function and for type checking only."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        source, target = package_of(imp.source), package_of(imp.target)
        if source != target:
            graph.setdefault(source, set()).add(target)
    return _cycles(graph)


def long_modules(lines: dict[str, int]) -> list[str]:
    """The modules (path -> number of lines) over ``MAX_LINES``, but the ones let be."""
    return sorted(f"{path}: {n} lines" for path, n in lines.items()
                  if n > MAX_LINES and path not in LONG_MODULES)


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """Cycles among modules, through imports that run at load time."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.at_load and imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
    return _cycles(graph)


def test_every_import_follows_the_layout() -> None:
    imports = all_imports()
    assert len(imports) > 50, "the scan found too few imports to be reading the tree"
    assert layout_violations(imports) == []


def test_no_import_cycles_at_load_time() -> None:
    assert import_cycles(all_imports()) == []


def test_no_import_cycle_between_packages() -> None:
    assert package_cycles(all_imports()) == []


def test_every_package_has_a_layer() -> None:
    packages = {package_of(name) for name in project_modules()} - {"rpa"}
    assert sorted(p for p in packages if layer_of(p) is None) == []


def test_no_module_is_too_long() -> None:
    lines = {str(path.relative_to(ROOT)): len(path.read_text().splitlines())
             for path in project_modules().values()}
    assert long_modules(lines) == []


@pytest.mark.parametrize("package", ["rpa", "flows", *SUBPACKAGES, "rpa.cli",
                                     "rpa.practice.sandbox", "rpa.practice.dovecot"])
def test_every_package_says_what_it_holds(package: str) -> None:
    init = ROOT / package.replace(".", "/") / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    assert len(doc.split()) >= 12, f"{init} needs a docstring saying what lives there"


def _modules_in(package: str) -> set[str]:
    """The modules and subpackages directly inside ``package``."""
    folder = ROOT / package.replace(".", "/")
    return ({p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
            | {p.parent.name for p in folder.glob("*/__init__.py")})


@pytest.mark.parametrize("package", ["rpa", *SUBPACKAGES, "rpa.cli", "rpa.practice.sandbox",
                                     "rpa.practice.dovecot"])
def test_every_package_names_each_of_its_modules(package: str) -> None:
    init = ROOT / package.replace(".", "/") / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text())) or ""
    unnamed = sorted(m for m in _modules_in(package) if f"``{m}``" not in doc)
    assert unnamed == [], f"{init}'s docstring does not say what these hold: {unnamed}"


def test_the_readme_code_map_names_every_folder_and_module() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "\n## Code map\n" in readme
    section = readme.split("\n## Code map\n", 1)[1].split("\n## ", 1)[0]
    words = set(re.findall(r"[A-Za-z_]+", section))
    missing = sorted(f"rpa/{p.name}" for p in (ROOT / "rpa").glob("*.py")
                     if p.stem != "__init__" and p.name not in section)
    for package in (*SUBPACKAGES, "rpa.cli"):
        folder = package.replace(".", "/") + "/"
        if folder not in section:
            missing.append(folder)
        missing += sorted(f"{folder}{m}" for m in _modules_in(package) if m not in words)
    missing += sorted(f"flows/{m}.py" for m in _modules_in("flows") if m not in words)
    assert missing == [], f"the README's code map does not name {missing}"


def test_no_module_left_at_the_top_but_the_entry_points() -> None:
    top = {p.stem for p in (ROOT / "rpa").glob("*.py")}
    assert top == {"__init__", "errors", "logs", "otp", "patterns", "redact", "smtp", "text"}
    assert (ROOT / "rpa" / "cli" / "__init__.py").is_file(), "the `rpa` command's package"


# ---- the checker itself must be able to fail ------------------------------------------

def _imp(source: str, target: str, at_load: bool = True) -> Import:
    return Import(source, target, 1, at_load)


@pytest.mark.parametrize(("source", "target", "at_load"), [
    ("rpa.mail.rules", "rpa.seller_central.messages", True),  # mail never imports Seller Central
    ("rpa.mail.rules", "rpa.messaging.replies", True),  # nor what may be said to a buyer
    ("rpa.mail.imap", "rpa.run.context", False),  # not even for typing
    ("rpa.errors", "rpa.ledger", False),
    ("rpa.otp", "rpa.config", False),
    ("flows.dashboard", "rpa.practice.sandbox", True),
    ("rpa.run.orchestrator", "rpa.practice.demo", False),
    ("rpa.run.context", "flows.login", True),  # flows are plugins: rpa never names them
    ("rpa.run.registry", "flows", False),  # not even the registry: it reads entry points
    ("rpa.cli", "flows.login", False),
    ("rpa.cli", "rpa.practice.demo", True),  # a module-level import of practice
    ("rpa.cli.runs", "rpa.practice.demo", True),  # in any module of the CLI
    ("rpa.config", "rpa.ledger", True),
    ("rpa.config.loading", "rpa.run.context", False),  # every module of the configuration
    ("rpa.config", "rpa.browser.selectors", False),
    ("rpa.practice.sandbox.app", "rpa.seller_central.pages", True),
    ("rpa.practice.dovecot.server", "rpa.errors", True),
    ("rpa.owner.notify", "rpa.seller_central.pages", False),
    # the packages added since: the console, the scheduler and sending mail
    ("rpa.mail.replying", "rpa.console.web", False),
    ("rpa.mail.rules", "rpa.scheduling.cron", True),
    ("rpa.mail.imap", "rpa.config", False),
    ("rpa.seller_central.home", "rpa.console.web", False),
    ("rpa.seller_central.messages", "rpa.scheduling.cron", True),
    ("rpa.seller_central.home", "rpa.ledger", True),  # of the run, only its context
    ("rpa.seller_central.pages", "rpa.run.orchestrator", False),
    ("rpa.seller_central.selectcheck", "rpa.run.orchestrator", False),  # the CLI starts it
    ("rpa.seller_central.selectcheck", "rpa.run.registry", True),  # a flow of flows/ runs it
    ("rpa.owner.answers", "rpa.console.escalations", False),
    ("rpa.owner.escalate", "rpa.scheduling.scheduler", True),
    ("flows.followups", "rpa.console.runnow", True),
    ("flows.dashboard", "rpa.scheduling.cron", False),
    ("rpa.scheduling.scheduler", "rpa.owner.notify", True),
    ("rpa.scheduling.scheduler", "rpa.console.app", False),
    ("rpa.scheduling.scheduler", "flows.login", False),
    ("rpa.console.runs", "rpa.practice.demo", False),
    ("rpa.console.app", "rpa.mail.imap", False),
    ("rpa.console.escalations", "rpa.seller_central.messages", True),
    ("rpa.run.orchestrator", "rpa.console.runnow", False),
    ("rpa.run.evidence", "rpa.scheduling.retention", True),
    ("rpa.smtp", "rpa.owner.notify", False),
    ("rpa.practice.smtpserver", "rpa.smtp", True),
    ("rpa.practice.postgres", "rpa.ledger.postgres", False),  # stands apart from the ledger
    ("rpa.ledger.postgres", "rpa.config", False),  # settings come in as plain values
    # the layers: the run below Seller Central, the owner below the run, ...
    ("rpa.run.context", "rpa.seller_central.pages", True),
    ("rpa.run.orchestrator", "rpa.seller_central.selectcheck", False),
    ("rpa.run.orchestrator", "rpa.mail.imap", False),
    ("rpa.owner.escalate", "rpa.run.context", False),  # not even for typing
    ("rpa.owner.answers", "rpa.run.orchestrator", False),
    ("rpa.owner.notify", "rpa.browser.chromium", True),
    ("rpa.browser.selectors", "rpa.seller_central.home", False),  # the engine knows no page
    ("rpa.browser.chromium", "rpa.run.evidence", True),
    ("rpa.browser.chromium", "rpa.ledger", True),  # beside the ledger, not above it
    ("rpa.ledger", "rpa.browser.selectors", False),
    ("rpa.ledger", "rpa.config", True),
    ("rpa.messaging.replies", "rpa.config", True),  # the configuration sits above
    ("rpa.messaging.policy", "rpa.mail.rules", False),
])
def test_a_forbidden_import_is_reported(source: str, target: str, at_load: bool) -> None:
    assert len(layout_violations([_imp(source, target, at_load)])) >= 1


@pytest.mark.parametrize(("source", "target", "at_load"), [
    ("rpa.cli", "rpa.practice.demo", False),
    ("rpa.cli.runs", "rpa.practice.demo", False),
    ("rpa.cli.common", "rpa.practice.sandbox.scenario", False),
    ("rpa.practice.demo", "rpa.run.orchestrator", True),
    ("rpa.practice.demo", "rpa.browser.chromium", True),
    ("rpa.config", "rpa.mail.rules", False),
    ("rpa.config.model", "rpa.config.replies", True),
    ("rpa.config", "rpa.messaging.replies", True),
    ("rpa.config", "rpa.messaging.policy", True),
    ("flows.mailbox", "rpa.mail.imap", True),
    ("flows.selectors_check", "rpa.seller_central.selectcheck", True),
    ("flows.login", "rpa.run.registry", True),
    ("rpa.practice.sandbox.app", "rpa.practice.sandbox.state", True),
    ("rpa.mail.replying", "rpa.smtp", True),
    ("rpa.mail.summary", "rpa.mail.headers", True),
    ("rpa.smtp", "rpa.redact", True),
    ("rpa.messaging.replies", "rpa.patterns", True),
    ("rpa.browser.chromium", "rpa.config", True),
    ("rpa.seller_central.pages", "rpa.run.context", False),
    ("rpa.seller_central.selectcheck", "rpa.run.context", True),
    ("rpa.seller_central.home", "rpa.browser.selectors", True),
    ("rpa.seller_central.messages", "rpa.messaging.replies", True),
    ("rpa.seller_central.signin", "rpa.otp", True),
    ("rpa.run.context", "rpa.browser.chromium", True),
    ("rpa.run.orchestrator", "rpa.browser.selectors", True),
    ("rpa.run.orchestrator", "rpa.owner.escalate", True),
    ("rpa.run.orchestrator", "rpa.otp", False),
    ("rpa.owner.escalate", "rpa.ledger", False),
    ("rpa.owner.escalate", "rpa.config", False),
    ("rpa.console.runs", "rpa.scheduling.cron", False),
    ("rpa.console.escalations", "rpa.messaging.policy", True),
    ("rpa.console.runnow", "rpa.run.orchestrator", True),
    ("rpa.scheduling.scheduler", "rpa.run.orchestrator", True),
    ("rpa.owner.answers", "rpa.messaging.policy", True),
    ("flows.email_answers", "rpa.smtp", True),
])
def test_an_allowed_import_is_not_reported(source: str, target: str, at_load: bool) -> None:
    assert layout_violations([_imp(source, target, at_load)]) == []


def test_a_cycle_is_found() -> None:
    imports = [_imp("rpa.a", "rpa.b"), _imp("rpa.b", "rpa.c"), _imp("rpa.c", "rpa.a"),
               _imp("rpa.c", "rpa.d", at_load=False), _imp("rpa.d", "rpa.c")]
    assert import_cycles(imports) == [["rpa.a", "rpa.b", "rpa.c", "rpa.a"]]


def test_a_cycle_between_packages_is_found_through_any_import() -> None:
    imports = [
        _imp("rpa.run.context", "rpa.run.evidence"),  # inside a package: no edge
        _imp("rpa.run.context", "rpa.seller_central.pages"),
        _imp("rpa.seller_central.pages", "rpa.run.context", at_load=False),  # typing only
        _imp("flows.login", "rpa.run.registry"),
        _imp("rpa.run.registry", "flows", at_load=False),  # a lazy import
        _imp("rpa.errors", "rpa.redact"),
    ]
    assert package_cycles(imports) == [["flows", "rpa.run", "flows"],
                                       ["rpa.run", "rpa.seller_central", "rpa.run"]]
    assert package_cycles(imports[:2] + imports[3:4] + imports[5:]) == []


@pytest.mark.parametrize(("module", "package"), [
    ("rpa.run.context", "rpa.run"), ("rpa.practice.sandbox.app", "rpa.practice"),
    ("rpa.browser", "rpa.browser"), ("flows.login", "flows"), ("flows", "flows"),
    ("rpa.errors", "rpa.errors"), ("rpa.config", "rpa.config"), ("rpa.cli", "rpa.cli"),
    ("rpa.config.mail", "rpa.config"), ("rpa", "rpa"),
])
def test_each_module_belongs_to_its_package(module: str, package: str) -> None:
    assert package_of(module) == package


def test_a_long_module_is_found() -> None:
    lines = {"rpa/run/context.py": MAX_LINES + 1, "flows/login.py": MAX_LINES,
             "rpa/practice/mailcorpus.py": 10 * MAX_LINES}
    assert long_modules(lines) == [f"rpa/run/context.py: {MAX_LINES + 1} lines"]


def test_relative_and_from_imports_resolve(tmp_path: Path) -> None:
    src = tmp_path / "mod.py"
    src.write_text("from typing import TYPE_CHECKING\n"
                   "from rpa.mail import rules\n"
                   "from . import sibling\n"
                   "if TYPE_CHECKING:\n    from rpa.run.context import RunContext\n"
                   "def f():\n    import rpa.practice.demo\n")
    known = {"rpa.mail.rules", "rpa.mail.sibling"}
    got = {(i.target, i.at_load) for i in imports_of("rpa.mail.mod", src, known)}
    assert got == {("rpa.mail.rules", True), ("rpa.mail.sibling", True),
                   ("rpa.run.context", False), ("rpa.practice.demo", False)}
