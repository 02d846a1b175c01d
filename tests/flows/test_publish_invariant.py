"""Structural proof of the publish invariant: only flows/publish.py writes media outputs.

Every call that can produce a rendered media file -- the encoder, the muxer, the
C2PA signer, an atomic rename -- is located in the product code with `ast`; each
must sit in the publish module or in an allow-listed place that writes something
other than a rendered output (with the reason written down here).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("consent", "provenance", "models", "media", "flows", "likeness")
PUBLISH = "flows/publish.py"

# name of the callable -> files allowed to call it, and why
ALLOWED: dict[str, dict[str, str]] = {
    "VideoWriter": {PUBLISH: "the one publish path"},
    "sign_media": {PUBLISH: "the one publish path"},
    "mux": {},
    "commit_file": {PUBLISH: "the one publish path"},
    "os.replace": {
        PUBLISH: "the atomic rename of a published file",
        "likeness/cli.py": "grant JSON documents and ledger exports (not media)",
        "models/asr/whisper_engine.py": "the joined whisper weights cache (not media)",
    },
    "os.rename": {},
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
    assert offenders == [], "outputs written outside flows/publish.py:\n" + "\n".join(offenders)


def test_publish_module_has_one_entry_point() -> None:
    tree = ast.parse((ROOT / PUBLISH).read_text(encoding="utf-8"))
    public = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)
              and not n.name.startswith("_")]
    assert "publish" in public
