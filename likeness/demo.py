"""`likeness demo`: the whole story on bundled media, in a throw-away studio home.

It never touches the user's own studio: everything lives under the output folder.
Steps print as they happen (Rich); with ``--json`` a summary document is returned.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.markup import escape

from consent.grants import sign_as_person
from consent.models import GrantTerms, RenderRequest, SignedGrant, Use
from consent.signing import SigningKey
from likeness.output import stderr
from likeness.settings import load_settings
from likeness.studio import Studio, init_studio
from media.ffmpeg import run_ffmpeg
from provenance.ledger.log import verify_ledger

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SPANISH_SCRIPT = """1
00:00:00,300 --> 00:00:01,900
Hola, soy un personaje ficticio.

2
00:00:02,000 --> 00:00:03,800
Doblado con permiso firmado.
"""
AVATAR_SPANISH_SCRIPT = """1
00:00:00,300 --> 00:00:02,400
Hola desde un avatar con licencia.
"""
BATCH_JOBS = """jobs:
  - name: restamp
    kind: stamp
    input: {source}
    use: [dubbing, lip_sync]
    language: es
    production: demo-intro
    performer: ava
    out: {out}/restamp.mp4
  - name: hello-again
    kind: avatar
    performer: ava
    language: en
    still: {face}
    text: "A second sentence from the same licensed avatar."
    production: demo-intro
    out: {out}/hello-again.mp4
  - name: intro-fr
    kind: dub
    input: {source}
    script: {script}
    language: fr
    performer: ava
    production: demo-intro
    out: {out}/intro-fr.mp4
"""
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
            stderr.print(f"[bold cyan]{self.n:>2}.[/] {escape(title)}"
                         + (f"  [dim]{escape(detail)}[/]" if detail else ""))


def run_demo(out: Path, *, as_json: bool = False, statement: bool = False) -> dict[str, Any]:
    """``statement`` adds the optional consent-statement step: a one-time challenge, a
    statement video "recorded" by the fictional performer, checked and bound into the
    grant before she signs it."""
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
        return _story(studio, out, step, statement=statement)
    finally:
        studio.close()


def _story(studio: Studio, out: Path, step: _Steps, *, statement: bool) -> dict[str, Any]:
    from flows.stamp import stamp_file

    key = SigningKey.generate()
    key_path = out / "ava.key"
    key_path.unlink(missing_ok=True)
    key_path.with_name("ava.key.pub").unlink(missing_ok=True)
    key.write(key_path)
    step("performer key pair created", f"{key_path} (0600)")

    studio.add_performer(performer_id="ava", name="Ava (fictional, flare-game portrait)",
                         public_key=key.verify_key, face_images=[DEMO_FACE])
    step("performer 'ava' registered", f"reference face from {DEMO_FACE.name}")

    now = datetime.now(UTC)
    grant = GrantTerms(
        performer_id="ava", uses=(Use.DUBBING, Use.LIP_SYNC), languages=("es",),
        productions=("demo-intro",), valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(days=90), max_renders=5,
        studio_key_id=studio.verify_key.key_id,  # given to this studio only
        description="Spanish dub with lip-sync of the Likeness demo intro clip, for the "
                    "project's own documentation; no advertising or political content.")
    draft = SignedGrant(grant=grant)
    evidence: dict[str, Any] | None = None
    if statement:
        draft, evidence = _consent_statement(studio, draft, step)
    signed = sign_as_person(draft, key, guardian=False)
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

    with tempfile.TemporaryDirectory(prefix="likeness-demo-") as scratch_dir:
        scratch = Path(scratch_dir)
        source = _source_clip(scratch)
        step("source clip made from the portrait (ffmpeg) with espeak-ng speech",
             f"{source.name}, 4 s 720p")
        published = out / "intro-stamped.mp4"
        published.unlink(missing_ok=True)
        decision, receipt = stamp_file(studio.render_context, source=source,
                                       performer_id="ava", uses=[Use.DUBBING, Use.LIP_SYNC],
                                       language="es", production="demo-intro", out=published)
        step("published through the one publish path: label, watermarks, ledger, C2PA",
             f"{published}  render {receipt.render_id}", render_id=receipt.render_id,
             out=str(published))
        statuses = {"published": _verify(studio, published, step, "the published file")}
        reupload = _reencode(published, scratch / "reupload-360p.mp4")
        statuses["re-encoded"] = _verify(studio, reupload, step,
                                         "a 360p CRF-28 re-upload (manifest stripped)")
        tampered = scratch / "tampered.mp4"
        data = bytearray(published.read_bytes())
        data[len(data) // 2] ^= 0xFF
        tampered.write_bytes(bytes(data))
        statuses["one byte changed"] = _verify(studio, tampered, step, "one byte changed")
        statuses["the source"] = _verify(studio, source, step, "the unmarked source clip")

        from flows.dub import DubRequest, run_dub

        dubbed = out / "intro-es.mp4"
        dubbed.unlink(missing_ok=True)
        script = scratch / "intro.es.srt"
        script.write_text(SPANISH_SCRIPT, encoding="utf-8")
        step("dubbing into Spanish with viseme lip-sync (a Prefect flow)", "starting…")
        result = run_dub(studio.render_context, DubRequest.build(
            video=source, language="es", out=dubbed, script=script, performer="ava",
            lipsync="viseme", production="demo-intro"))
        step("dubbed and published", f"{dubbed}  render {result.render_id}, "
             f"{result.frames_lipsynced}/{result.frames} frames lip-synced",
             render_id=result.render_id, out=str(dubbed))
        statuses["dubbed"] = _verify(studio, dubbed, step, "the Spanish dub")

        from flows.avatar import AvatarRequest, run_avatar

        avatar_grant = GrantTerms(
            performer_id="ava", uses=(Use.AVATAR,), languages=("en",),
            productions=("demo-intro",), valid_from=now - timedelta(minutes=1),
            valid_until=now + timedelta(days=90), max_renders=2,
            studio_key_id=studio.verify_key.key_id,
            description="An English avatar of the fictional portrait saying one sentence, "
                        "for the Likeness demo; no advertising or political content.")
        studio.register_grant(sign_as_person(SignedGrant(grant=avatar_grant), key,
                                             guardian=False))
        step("a second grant, for an English avatar, signed and registered")
        avatar = out / "hello-avatar.mp4"
        avatar.unlink(missing_ok=True)
        made = run_avatar(studio.render_context, AvatarRequest.build(
            performer="ava", language="en", out=avatar, still=DEMO_FACE,
            text="Hello. I am a licensed avatar of a fictional painted character.",
            production="demo-intro"))
        step("avatar from the registered still, spoken and lip-synced (a Prefect flow)",
             f"{avatar}  render {made.render_id}", render_id=made.render_id,
             out=str(avatar))
        statuses["avatar"] = _verify(studio, avatar, step, "the avatar")
        avatar_script = scratch / "hello.es.srt"
        avatar_script.write_text(AVATAR_SPANISH_SCRIPT, encoding="utf-8")
        avatar_es = out / "hello-avatar.es.mp4"
        avatar_es.unlink(missing_ok=True)
        dubbed_avatar = run_dub(studio.render_context, DubRequest.build(
            video=avatar, language="es", out=avatar_es, script=avatar_script,
            performer="ava", production="demo-intro"))
        step("the avatar dubbed into Spanish (its source manifest kept as the parent)",
             f"{avatar_es}  render {dubbed_avatar.render_id}", out=str(avatar_es))
        statuses["avatar dubbed"] = _verify(studio, avatar_es, step, "the avatar's Spanish dub")

        from flows.batch import run_batch
        from flows.jobs import load_job_file

        batch_dir = out / "batch"
        batch_dir.mkdir(exist_ok=True)
        for stale in batch_dir.glob("*.mp4"):
            stale.unlink()
        jobs_file = scratch / "jobs.yaml"
        jobs_file.write_text(BATCH_JOBS.format(source=source, script=script, face=DEMO_FACE,
                                               out=batch_dir), encoding="utf-8")
        step("a batch of three jobs: a stamp, an avatar, a French dub no grant covers",
             str(jobs_file.name))
        batch = run_batch(studio.render_context, load_job_file(jobs_file), concurrency=1)
        outcomes = {job.name: job.status for job in batch.jobs}
        step("batch finished: " + ", ".join(f"{k} {v}" for k, v in outcomes.items()),
             f"exit code {batch.exit_code}", jobs=outcomes)
        batch_ok = outcomes == {"restamp": "published", "hello-again": "published",
                                "intro-fr": "denied"} and batch.exit_code == 3

    studio.revoke(gid, key=key, reason="demo: the performer withdraws consent")
    step("performer revoked the grant", gid)
    denied_revoked = not ask("es", "demo-intro")
    with studio.session() as session:
        audit = verify_ledger(session, studio.verify_key)
    step("ledger verified", f"{audit.entries} entries, {audit.tree_heads} signed tree heads",
         entries=audit.entries)
    ok = (allowed_es and denied_fr and denied_other and denied_revoked and batch_ok
          and (evidence is None or evidence["passed"])
          and statuses == {
        "published": "intact", "re-encoded": "derived", "one byte changed": "tampered",
        "the source": "unknown", "dubbed": "intact", "avatar": "intact",
        "avatar dubbed": "intact"})
    return {"ok": ok, "home": str(studio.settings.home), "grant_id": gid,
            "published": str(published), "render_id": decision.render_id,
            "dubbed": str(dubbed), "dub_render_id": result.render_id,
            "avatar": str(avatar), "avatar_render_id": made.render_id, "batch": outcomes,
            "verify": statuses, "ledger_entries": audit.entries, "evidence": evidence,
            "steps": step.log}


def _consent_statement(studio: Studio, draft: SignedGrant,
                       step: _Steps) -> tuple[SignedGrant, dict[str, Any]]:
    """Challenge, statement, automatic check; the checked grant comes back with the
    statement's SHA-256 in it, still unsigned."""
    from likeness.consent_evidence import issue_challenge, verify_evidence
    from likeness.demo_statement import record_statement

    performer = draft.grant.performer_id
    challenge = issue_challenge(studio, performer_id=performer)
    step("one-time consent challenge issued", f"{challenge.challenge_id}: "
         f"\"{challenge.phrase}\" (single use, expires {challenge.expires_at:%H:%M} UTC)",
         challenge_id=challenge.challenge_id)
    with tempfile.TemporaryDirectory(prefix="likeness-statement-") as folder:
        video = Path(folder) / "statement.mp4"
        record_statement(video, text=f"My words are: {', '.join(challenge.phrase.split())}. "
                         f"{draft.grant.description}", face=DEMO_FACE,
                         models_dir=studio.settings.models_dir)
        step("the performer records her statement: the grant's description and the phrase",
             "(the demo animates the fictional portrait; a real performer films herself)")
        draft_path = Path(folder) / "grant.draft.json"
        draft_path.write_text(draft.model_dump_json(indent=2), encoding="utf-8")
        result = verify_evidence(studio, grant_path=draft_path, video=video,
                                 challenge_id=challenge.challenge_id, language="en",
                                 write_grant=lambda path, text: path.write_text(
                                     text, encoding="utf-8"))
        checked = SignedGrant.model_validate_json(draft_path.read_bytes())
    figures = ", ".join(f"{c['name']} {float(c['figure']):.2f}" for c in result.checks)
    step("statement checked automatically and bound into the grant",
         f"{figures}; video {result.video_sha256[:16]}… stored 0600",
         checks=list(result.checks))
    return checked, {"passed": all(c["passed"] for c in result.checks),
                     "video_sha256": result.video_sha256, "checks": list(result.checks)}


def _verify(studio: Studio, path: Path, step: _Steps, what: str) -> str:
    report = studio.verify(path)
    detail = f"render {report.render_id}" if report.render_id else ""
    step(f"verify {what} -> {report.status} (exit {report.exit_code})", detail,
         status=report.status)
    return report.status


def _source_clip(folder: Path) -> Path:
    """A 4 s 720p clip of the fictional portrait, moving slightly, with espeak-ng speech."""
    wav = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(wav),
                    "Hello. This clip shows a fictional painted character, "
                    "published under a signed likeness grant."], check=True,
                   capture_output=True)
    clip = folder / "source.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=0x405060:s=1280x720:r=25",
                "-loop", "1", "-i", str(DEMO_FACE), "-i", str(wav), "-filter_complex",
                "[1:v]scale=420:420[f];[0:v][f]overlay=x=430+16*sin(t*2):y=150+6*cos(t*3)"
                ":shortest=1,format=yuv420p[v]", "-map", "[v]", "-map", "2:a", "-t", "4",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-c:a", "aac",
                str(clip)], what="demo source clip")
    return clip


def _reencode(path: Path, dest: Path) -> Path:
    """What a platform does on upload: downscale and re-encode, dropping the manifest."""
    run_ffmpeg(["-y", "-i", str(path), "-vf", "scale=640:360", "-c:v", "libx264",
                "-crf", "28", "-c:a", "aac", "-b:a", "96k", str(dest)],
               what="demo re-encode")
    return dest
