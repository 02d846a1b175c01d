"""`likeness demo`: the whole story on bundled media, in a throw-away studio home.

It never touches the user's own studio: everything lives under the output folder.
Steps print as they happen (Rich); with ``--json`` a summary document is returned.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from consent.grants import sign_as_person
from consent.models import GrantTerms, RenderRequest, SignedGrant, Use
from consent.signing import SigningKey
from likeness.output import stderr
from likeness.settings import load_settings
from likeness.studio import FaceReference, Studio, init_studio

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEMO_FACE = ASSETS / "faces" / "female01.png"


class _Steps:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.n = 0
        self.log: list[dict[str, Any]] = []

    def __call__(self, title: str, detail: str = "", **data: Any) -> None:
        self.n += 1
        self.log.append({"step": self.n, "title": title, **data})
        if not self.quiet:
            stderr.print(f"[bold cyan]{self.n:>2}.[/] {title}" + (f"  [dim]{detail}[/]"
                                                                    if detail else ""))


def run_demo(out: Path, *, as_json: bool = False) -> dict[str, Any]:
    out = out.absolute()
    home = out / "studio"
    if home.exists():
        shutil.rmtree(home)
    out.mkdir(parents=True, exist_ok=True)
    step = _Steps(quiet=as_json)
    settings = load_settings({"LIKENESS_HOME": str(home)})
    report = init_studio(settings, studio_name="Demo Studio")
    step("studio initialized", str(report.home), home=str(report.home))
    settings = load_settings({"LIKENESS_HOME": str(home)})
    studio = Studio(settings)
    try:
        return _story(studio, out, step)
    finally:
        studio.close()


def _story(studio: Studio, out: Path, step: _Steps) -> dict[str, Any]:
    from models.face import get_face_engine, load_image, single_face_embedding

    key = SigningKey.generate()
    key_path = out / "ava.key"
    key_path.unlink(missing_ok=True)
    key_path.with_name("ava.key.pub").unlink(missing_ok=True)
    key.write(key_path)
    step("performer key pair created", f"{key_path} (0600)")

    engine = get_face_engine(studio.settings.studio.face_engine)
    image = load_image(DEMO_FACE)
    embedding = single_face_embedding(engine, image, source=str(DEMO_FACE))
    import hashlib

    studio.add_performer(performer_id="ava", name="Ava (fictional, flare-game portrait)",
                         public_key=key.verify_key, faces=[FaceReference(
                             engine=engine.name, embedding=embedding,
                             image_sha256=hashlib.sha256(DEMO_FACE.read_bytes()).hexdigest())])
    step("performer 'ava' registered", f"reference face from {DEMO_FACE.name}")

    now = datetime.now(UTC)
    grant = GrantTerms(
        performer_id="ava", uses=(Use.DUBBING, Use.LIP_SYNC), languages=("es",),
        productions=("demo-intro",), valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(days=90), max_renders=5,
        description="Spanish dub with lip-sync of the Likeness demo intro clip, for the "
                    "project's own documentation; no advertising or political content.")
    signed = sign_as_person(SignedGrant(grant=grant), key, guardian=False)
    registered = studio.register_grant(signed)
    gid = registered.grant.grant_id
    step("grant drafted, signed by the performer, countersigned by the studio", gid,
         grant_id=gid)

    def ask(language: str, production: str) -> bool:
        decision = studio.authorize(RenderRequest(
            performer_id="ava", uses=(Use.DUBBING, Use.LIP_SYNC), language=language,
            production=production, reserve=False))
        verdict = "allowed" if decision.allowed else "denied: " + "; ".join(decision.reasons)
        step(f"gate: dub into {language} for {production} -> {verdict}",
             allowed=decision.allowed, reasons=list(decision.reasons))
        return decision.allowed

    allowed_es = ask("es", "demo-intro")
    denied_fr = not ask("fr", "demo-intro")
    denied_other = not ask("es", "another-production")
    studio.revoke(gid, key=key, reason="demo: the performer withdraws consent")
    step("performer revoked the grant", gid)
    denied_revoked = not ask("es", "demo-intro")
    from provenance.ledger.store import Ledger

    with studio.session() as session:
        entries = Ledger.size(session)
    step("ledger holds every change and decision", f"{entries} entries", entries=entries)
    ok = allowed_es and denied_fr and denied_other and denied_revoked
    return {"ok": ok, "home": str(studio.settings.home), "grant_id": gid,
            "ledger_entries": entries, "steps": step.log}
