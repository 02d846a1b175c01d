"""Structural proof of the publish invariant: only provenance/publish.py writes outputs.

Every call that can produce a rendered media file -- the encoder, the muxer, the
C2PA signer, an atomic rename -- is located in the product code with `ast`; each
must sit in the publish module or in an allow-listed place that writes something
other than a rendered output (with the reason written down here). Inside the
publish module, the steps that make a file official (C2PA signing, the
`render_published` ledger entry, the atomic commit) must be reachable from
`publish` alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("consent", "provenance", "models", "media", "flows", "likeness")
PUBLISH = "provenance/publish.py"
PUBLISH_MODULE = "provenance.publish"

# name of the callable -> files allowed to call it, and why
ALLOWED: dict[str, dict[str, str]] = {
    "VideoWriter": {PUBLISH: "the one publish path",
                    "likeness/demo_statement.py": "the demo's stand-in for a performer "
                    "filming her consent statement: evidence input, written only into a "
                    "temporary folder (it refuses any other), never a render output"},
    "sign_media": {PUBLISH: "the one publish path"},
    "mux": {},
    "commit_file": {PUBLISH: "the one publish path"},
    "os.replace": {
        PUBLISH: "the atomic rename of a published file",
        "likeness/cli/common.py": "grant JSON documents and ledger exports (not media)",
        "provenance/c2pa/store.py": "the studio's copy of signed manifest stores (not media)",
        "models/asr/whisper_engine.py": "the joined whisper weights cache (not media)",
        "models/face/dlib_descriptor.py": "the face descriptor's derived graph (a model)",
        "flows/dub.py": "the cue report and subtitle sidecars, written after publish (text)",
        "flows/batch.py": "the batch's per-output state records (JSON, not media)",
    },
    "os.rename": {"likeness/deployments.py": "job files moved through the watch folder (YAML)"},
    "shutil.move": {},
    "shutil.copy": {},
    "shutil.copy2": {},
    "shutil.copyfile": {"models/asr/whisper_engine.py": "whisper tokenizer/config into the cache"},
}


def _calls(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = None
            if isinstance(func, ast.Name):
                name = func.id
            elif isinstance(func, ast.Attribute):
                qualified = (f"{func.value.id}.{func.attr}"
                             if isinstance(func.value, ast.Name) else func.attr)
                name = qualified if qualified in ALLOWED else func.attr
            if name in ALLOWED:
                found.append((name, node.lineno))
    return found


def test_only_the_publish_path_writes_outputs() -> None:
    offenders = []
    scanned = 0
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            scanned += 1
            for name, line in _calls(path):
                if name == "VideoWriter" and rel == "media/encode.py":
                    continue
                if name == "mux" and rel.startswith("media/"):
                    continue
                if rel not in ALLOWED[name]:
                    offenders.append(f"{rel}:{line} calls {name}()")
    assert scanned > 30
    assert offenders == [], f"outputs written outside {PUBLISH}:\n" + "\n".join(offenders)


# -- only `publish` takes the steps that make a file official ------------------------------

STEPS = ("sign_media", "commit_file", "os.replace", "ledger append")
ENTRY = "publish"


def _step(node: ast.Call) -> str | None:
    """Which official step a call takes, if any."""
    func = node.func
    if isinstance(func, ast.Name) and func.id in ("sign_media", "commit_file"):
        return func.id
    if isinstance(func, ast.Attribute):
        if func.attr == "replace" and isinstance(func.value, ast.Name) and func.value.id == "os":
            return "os.replace"
        if func.attr == "record" and any(isinstance(a, ast.Constant) and a.value ==
                                         "render_published" for a in node.args):
            return "ledger append"
    return None


def _owner(statement: ast.stmt) -> str:
    """Top-level functions and classes are units; other module-level code is one more."""
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return statement.name
    return "<module level>"


def guarded_units(source: str) -> tuple[dict[str, set[str]], set[str], list[str]]:
    """For a publish module: step -> units taking it; the units that lead to a step
    (directly or through the units they use); and the problems: each such unit that
    is not `publish` or reached from it."""
    tree = ast.parse(source)
    units = {_owner(s) for s in tree.body}
    uses: dict[str, set[str]] = {}
    takes: dict[str, set[str]] = {}
    for statement in tree.body:
        owner = _owner(statement)
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and node.id in units and node.id != owner:
                uses.setdefault(owner, set()).add(node.id)
            if isinstance(node, ast.Call) and (step := _step(node)) is not None:
                takes.setdefault(step, set()).add(owner)
    reached, todo = {ENTRY}, [ENTRY]
    while todo:
        for used in uses.get(todo.pop(), set()) - reached:
            reached.add(used)
            todo.append(used)
    leading = set().union(*takes.values()) if takes else set()
    grew = True
    while grew:
        callers = {u for u, used in uses.items() if used & leading} - leading
        leading |= callers
        grew = bool(callers)
    problems = [f"{unit} leads to an official step but is not {ENTRY}() or only reached "
                "from it" for unit in sorted(leading - reached)]
    return takes, leading, problems


def test_publish_module_has_one_entry_point() -> None:
    takes, leading, problems = guarded_units((ROOT / PUBLISH).read_text(encoding="utf-8"))
    assert sorted(takes) == sorted(STEPS), takes  # every step is found, so the check bites
    assert problems == []
    assert ENTRY in leading


def test_no_other_module_takes_or_reaches_an_official_step() -> None:
    """Elsewhere: no `render_published` entry, and no import of a publish helper that
    leads to a step (which would be a second way in)."""
    _, leading, _ = guarded_units((ROOT / PUBLISH).read_text(encoding="utf-8"))
    helpers = leading - {ENTRY}
    assert {"commit_file", "append_published"} <= helpers
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel == PUBLISH:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and _step(node) == "ledger append":
                    offenders.append(f"{rel}:{node.lineno} appends render_published")
                if isinstance(node, ast.ImportFrom) and node.module == PUBLISH_MODULE:
                    offenders += [f"{rel}:{node.lineno} imports {a.name}" for a in node.names
                                  if a.name in helpers]
                if isinstance(node, ast.Attribute) and node.attr in helpers and \
                        ast.unparse(node.value).endswith(PUBLISH_MODULE.rsplit(".", 1)[-1]):
                    offenders.append(f"{rel}:{node.lineno} uses {ast.unparse(node)}")
    assert offenders == [], "\n".join(offenders)


SNEAKY = {
    "a second public function signs": """
def publish(): _encode()
def _encode(): pass
def restamp(): sign_media(source=a, dest=b)
""",
    "a helper of publish is also used by another function": """
def publish(): append_published()
def append_published(): ctx.ledger.record(session, "render_published", {})
def replay(): append_published()
""",
    "module-level code commits": """
def publish(): pass
os.replace(a, b)
""",
    "an alias hands the committing helper out": """
def publish(): _commit()
def _commit(): commit_file(a, b)
EXPORTED = _commit
""",
}


@pytest.mark.parametrize("case", sorted(SNEAKY))
def test_the_entry_point_check_catches_a_second_way_in(case: str) -> None:
    _, _, problems = guarded_units(SNEAKY[case])
    assert problems, case


def test_the_entry_point_check_accepts_helpers_reached_only_from_publish() -> None:
    takes, leading, problems = guarded_units("""
def publish(): _sign(); _append(); commit_file(a, b)
def _sign(): sign_media(source=a, dest=b)
def _append(): ledger.record(s, "render_published", {})
def record_failure(): ledger.record(s, "render_failed", {})
""")
    assert problems == [] and leading == {"publish", "_sign", "_append"}
    assert sorted(takes) == ["commit_file", "ledger append", "sign_media"]
