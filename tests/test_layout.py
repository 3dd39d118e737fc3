"""The code layout stays true: which package may import which, read from the source with ast.

The rules are the ones each package's ``__init__`` states. Every import counts (at module
level, inside a function, or for type checking only); the cycle check looks only at imports
that run when a module is loaded.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CROSS_CUTTING = ("rpa.errors", "rpa.redact", "rpa.logs", "rpa.patterns", "rpa.text", "rpa.smtp")
SUBPACKAGES = ("rpa.run", "rpa.ledger", "rpa.seller_central", "rpa.mail", "rpa.owner",
               "rpa.practice", "rpa.console", "rpa.scheduling")

# importer (module or package prefix) -> what it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    **{base: ("rpa.config", "rpa.cli", "flows", *SUBPACKAGES) for base in CROSS_CUTTING},
    "rpa.mail": ("rpa.seller_central", "rpa.owner", "rpa.run", "rpa.practice", "rpa.cli",
                 "rpa.config", "flows"),
    "rpa.seller_central": ("rpa.mail", "rpa.owner", "rpa.practice", "rpa.cli", "flows"),
    "rpa.owner": ("rpa.seller_central", "rpa.mail", "rpa.practice", "rpa.cli", "rpa.console",
                  "rpa.scheduling", "flows"),
    "rpa.run": ("rpa.mail", "rpa.practice", "rpa.cli", "rpa.console", "rpa.scheduling"),
    # The console and the scheduler drive runs through the orchestrator; they never reach
    # into pages or mail themselves, and practice stays out.
    "rpa.console": ("rpa.practice", "rpa.cli", "rpa.seller_central.pages",
                    "rpa.seller_central.signin", "rpa.mail.imap", "flows"),
    "rpa.scheduling": ("rpa.practice", "rpa.cli", "rpa.console", "rpa.seller_central",
                       "rpa.mail", "flows"),
    "flows": ("rpa.practice", "rpa.cli", "rpa.console", "rpa.scheduling"),
    # The sandbox and the throwaway mail server stand apart from the bot they exercise:
    # sharing its code would let one bug hide in both.
    "rpa.practice.sandbox": ("rpa", "flows"),
    "rpa.practice.dovecot": ("rpa",),
    "rpa.practice.mailcorpus": ("rpa",),
    "rpa.practice.receiver": ("rpa",),
    "rpa.practice.smtpserver": ("rpa",),
}
# importer -> the only project modules it may import, besides its own package (what its
# ``__init__`` allows, so a package added later is kept out without naming it here).
ONLY_FROM: dict[str, tuple[str, ...]] = {
    "rpa.mail": CROSS_CUTTING,
    "rpa.ledger": CROSS_CUTTING,
    "rpa.seller_central": (*CROSS_CUTTING, "rpa.config", "rpa.run.context"),
    "rpa.scheduling": (*CROSS_CUTTING, "rpa.config", "rpa.run"),
}
# ``rpa selectors check`` is a flow kept beside the selectors it checks: it registers
# itself and starts a run of its own.
ONLY_FROM_EXCEPT: dict[str, tuple[str, ...]] = {
    "rpa.seller_central.selectcheck": ("rpa.run.registry", "rpa.run.orchestrator"),
}
# The owner's answers go to buyers: the owner package checks them with Amazon's messaging
# rules, a pure module of Seller Central (as the configuration does).
OWNER_MAY_IMPORT = ("rpa.seller_central.messaging",)
# The configuration validates reply and mail rules when it loads, and needs nothing else.
CONFIG_MAY_IMPORT = (*CROSS_CUTTING, "rpa.seller_central.replies",
                     "rpa.seller_central.messaging", "rpa.mail.rules")


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


def layout_violations(imports: list[Import]) -> list[str]:
    """Each import that breaks a rule, as 'file:line: source imports target (why)'."""
    bad: list[str] = []

    def report(imp: Import, why: str) -> None:
        bad.append(f"{imp.source}:{imp.line}: imports {imp.target} ({why})")

    for imp in imports:
        for importer, banned in FORBIDDEN.items():
            if within(imp.source, importer):
                for prefix in banned:
                    if within(imp.target, prefix) and not within(imp.target, importer):
                        if within(imp.source, "rpa.owner") and imp.target in OWNER_MAY_IMPORT:
                            continue
                        report(imp, f"{importer} must not import {prefix}")
        for importer, allowed in ONLY_FROM.items():
            if within(imp.source, importer) and not within(imp.target, importer) \
                    and not any(within(imp.target, ok) for ok in allowed) \
                    and imp.target not in ONLY_FROM_EXCEPT.get(imp.source, ()):
                report(imp, f"{importer} imports only {', '.join(allowed)}")
        if imp.source == "rpa.config" and not any(within(imp.target, ok)
                                                   for ok in CONFIG_MAY_IMPORT):
            report(imp, "the configuration imports only the rules it validates")
        if within(imp.target, "flows") and within(imp.source, "rpa") \
                and imp.source != "rpa.run.registry":
            report(imp, "only the registry loads flows")
        if within(imp.target, "rpa.practice") and not within(imp.source, "rpa.practice"):
            if not within(imp.source, "rpa.cli"):
                report(imp, "practice is imported only by the CLI, the demo and tests")
            elif imp.at_load:
                report(imp, "the CLI imports practice only in the commands that use it")
    return bad


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """Cycles among imports that run at load time."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.at_load and imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
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


def test_every_import_follows_the_layout() -> None:
    imports = all_imports()
    assert len(imports) > 50, "the scan found too few imports to be reading the tree"
    assert layout_violations(imports) == []


def test_no_import_cycles_at_load_time() -> None:
    assert import_cycles(all_imports()) == []


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
    assert top == {"__init__", "config", "errors", "logs", "patterns", "redact", "smtp", "text"}
    assert (ROOT / "rpa" / "cli" / "__init__.py").is_file(), "the `rpa` command's package"


# ---- the checker itself must be able to fail ------------------------------------------

def _imp(source: str, target: str, at_load: bool = True) -> Import:
    return Import(source, target, 1, at_load)


@pytest.mark.parametrize(("source", "target", "at_load"), [
    ("rpa.mail.rules", "rpa.seller_central.replies", True),  # mail never imports Seller Central
    ("rpa.mail.imap", "rpa.run.context", False),  # not even for typing
    ("rpa.errors", "rpa.ledger", False),
    ("flows.dashboard", "rpa.practice.sandbox", True),
    ("rpa.run.orchestrator", "rpa.practice.demo", False),
    ("rpa.run.context", "flows.login", True),  # only the registry loads flows
    ("rpa.cli", "rpa.practice.demo", True),  # a module-level import of practice
    ("rpa.cli.runs", "rpa.practice.demo", True),  # in any module of the CLI
    ("rpa.config", "rpa.ledger", True),
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
    ("rpa.owner.answers", "rpa.console.escalations", False),
    ("rpa.owner.escalate", "rpa.scheduling.scheduler", True),
    ("flows.followups", "rpa.console.runnow", True),
    ("flows.dashboard", "rpa.scheduling.cron", False),
    ("rpa.scheduling.scheduler", "rpa.owner.notify", True),
    ("rpa.scheduling.scheduler", "rpa.console.app", False),
    ("rpa.console.runs", "rpa.practice.demo", False),
    ("rpa.console.app", "rpa.mail.imap", False),
    ("rpa.run.orchestrator", "rpa.console.runnow", False),
    ("rpa.run.evidence", "rpa.scheduling.retention", True),
    ("rpa.smtp", "rpa.owner.notify", False),
    ("rpa.practice.smtpserver", "rpa.smtp", True),
])
def test_a_forbidden_import_is_reported(source: str, target: str, at_load: bool) -> None:
    assert len(layout_violations([_imp(source, target, at_load)])) >= 1


@pytest.mark.parametrize(("source", "target", "at_load"), [
    ("rpa.cli", "rpa.practice.demo", False),
    ("rpa.cli.runs", "rpa.practice.demo", False),
    ("rpa.cli.common", "rpa.practice.sandbox.scenario", False),
    ("rpa.run.registry", "flows", False),
    ("rpa.practice.demo", "rpa.run.orchestrator", True),
    ("rpa.config", "rpa.mail.rules", False),
    ("flows.mailbox", "rpa.mail.imap", True),
    ("rpa.practice.sandbox.app", "rpa.practice.sandbox.state", True),
    ("rpa.mail.replying", "rpa.smtp", True),
    ("rpa.mail.summary", "rpa.mail.headers", True),
    ("rpa.seller_central.pages", "rpa.run.context", False),
    ("rpa.seller_central.selectcheck", "rpa.run.orchestrator", False),
    ("rpa.seller_central.selectcheck", "rpa.run.registry", True),
    ("rpa.console.runs", "rpa.scheduling.cron", False),
    ("rpa.console.escalations", "rpa.seller_central.messaging", True),
    ("rpa.console.runnow", "rpa.run.orchestrator", True),
    ("rpa.scheduling.scheduler", "rpa.run.orchestrator", True),
    ("rpa.owner.answers", "rpa.seller_central.messaging", True),
    ("flows.email_answers", "rpa.smtp", True),
])
def test_an_allowed_import_is_not_reported(source: str, target: str, at_load: bool) -> None:
    assert layout_violations([_imp(source, target, at_load)]) == []


def test_a_cycle_is_found() -> None:
    imports = [_imp("rpa.a", "rpa.b"), _imp("rpa.b", "rpa.c"), _imp("rpa.c", "rpa.a"),
               _imp("rpa.c", "rpa.d", at_load=False), _imp("rpa.d", "rpa.c")]
    assert import_cycles(imports) == [["rpa.a", "rpa.b", "rpa.c", "rpa.a"]]


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
