"""The `likeness` command line (Typer + Rich).

Errors are caught once, in `main`: a `LikenessError` prints ``error: ...`` and
exits with its documented code; anything else is an internal error (exit 1), with
a traceback only under ``--debug``. Heavy imports (media, models, Prefect) happen
inside the commands that need them so ``--help`` and consent commands stay fast.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.table import Table
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click

from likeness.errors import BadInput, ConsentDenied, LikenessError
from likeness.output import emit, stderr, stdout
from models.registry import LipSyncName

app = typer.Typer(name="likeness", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Consent-gated synthetic media studio.")
keys_app = typer.Typer(no_args_is_help=True, help="Ed25519 key pairs for performers and guardians.")
performer_app = typer.Typer(no_args_is_help=True, help="Performers and their reference faces.")
consent_app = typer.Typer(no_args_is_help=True, help="Likeness grants: draft, sign, register.")
app.add_typer(keys_app, name="keys")
app.add_typer(performer_app, name="performer")
app.add_typer(consent_app, name="consent")
models_app = typer.Typer(no_args_is_help=True, help="Engines and weight files.")
app.add_typer(models_app, name="models")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident ledger.")
app.add_typer(audit_app, name="audit")

_state = {"debug": False}

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug


def _settings():  # noqa: ANN202 - lazy import keeps --help fast
    from likeness.settings import load_settings

    return load_settings()


def _studio():  # noqa: ANN202
    from likeness.studio import Studio

    return Studio(_settings())


def parse_when(value: str, *, field: str) -> datetime:
    """ISO date or datetime; a bare date means midnight UTC, naive times are UTC."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0, 0), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{field}: {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def sha256_file(path: Path) -> str:
    from media.digest import sha256_file as digest

    return digest(path)


def write_document(path: Path, text: str) -> None:
    """Write a small document atomically (temp file in the same folder, fsync, rename)."""
    path = path.absolute()
    if not path.parent.is_dir():
        raise BadInput(f"folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def frame_progress(label: str, *, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on stderr, advanced once per frame; silent with --json."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    if quiet or not stderr.is_terminal:
        yield lambda total: None
        return
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=stderr,
                  transient=True) as progress:
        task = progress.add_task(label, total=None)

        def advance(total: int) -> None:
            if total and progress.tasks[0].total is None:
                progress.update(task, total=total)
            progress.advance(task)

        yield advance


# --------------------------------------------------------------------------- init / keys
@app.command()
def init(studio: Annotated[str | None, typer.Option("--studio", help="Studio name.")] = None,
         as_json: JsonOpt = False) -> None:
    """Create the studio home: signing key (0600), C2PA chain, registry database, ledger."""
    from likeness.studio import init_studio, redact_url

    settings = _settings()
    report = init_studio(settings, studio_name=studio)
    data = {"home": str(report.home), "created": list(report.created),
            "database": redact_url(report.database_url), "changed": bool(report.created)}

    def render() -> None:
        if report.created:
            stdout.print(f"[bold green]studio initialized[/] in {report.home}")
            for item in report.created:
                stdout.print(f"  created {item}")
        else:
            stdout.print(f"studio at {report.home} is already initialized; nothing changed")

    emit(data, as_json=as_json, render=render)


@keys_app.command("new")
def keys_new(out: Annotated[Path, typer.Option("--out", help="Private key file (0600).")],
             as_json: JsonOpt = False) -> None:
    """Create an Ed25519 key pair: FILE (private, 0600) and FILE.pub."""
    from consent.signing import SigningKey

    pub = out.with_name(out.name + ".pub")
    if pub.exists():
        raise BadInput(f"{pub} already exists; refusing to overwrite a key")
    key = SigningKey.generate()
    key.write(out)
    data = {"private_key": str(out), "public_key": str(pub), "key_id": key.verify_key.key_id}
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"key pair written: {out} (private, 0600) and {pub}\nkey id {key.verify_key.key_id}"))


# --------------------------------------------------------------------------- performers
@performer_app.command("add")
def performer_add(
    performer_id: Annotated[str, typer.Option("--id", help="Short id, e.g. 'ava'.")],
    name: Annotated[str, typer.Option("--name")],
    face: Annotated[list[Path], typer.Option("--face", help="Reference image (one face).")],
    public_key: Annotated[Path, typer.Option("--public-key", help="Performer's FILE.pub.")],
    voice: Annotated[Path | None, typer.Option("--voice", help="Reference voice WAV.")] = None,
    date_of_birth: Annotated[str | None, typer.Option(
        "--date-of-birth", help="YYYY-MM-DD; minors need a guardian.")] = None,
    guardian_key: Annotated[Path | None, typer.Option(
        "--guardian-key", help="Guardian's FILE.pub (required for minors).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a performer with reference face embeddings and a public key."""
    from consent.models import Identifier  # noqa: F401  (validated below)
    from consent.signing import VerifyKey
    from likeness.studio import FaceReference
    from models import registry
    from models.face import load_image, single_face_embedding
    from models.registry import EnginePolicy

    _check_identifier(performer_id, "--id")
    studio = _studio()
    pub = VerifyKey.from_file(public_key)
    guardian = VerifyKey.from_file(guardian_key) if guardian_key else None
    dob = parse_when(date_of_birth, field="--date-of-birth").date() if date_of_birth else None
    if dob is not None and dob > datetime.now(UTC).date():
        raise BadInput("--date-of-birth is in the future")
    voice_sha = None
    if voice is not None:
        voice_sha = _check_voice(voice)
    engine = registry.get("face", studio.settings.studio.face_engine,
                          models_dir=studio.settings.models_dir,
                          policy=EnginePolicy.for_studio(studio.settings.studio))
    refs = []
    for path in face:
        image = load_image(path)
        embedding = single_face_embedding(engine, image, source=str(path))
        refs.append(FaceReference(engine=engine.name, embedding=embedding,
                                  image_sha256=sha256_file(path)))
    performer = studio.add_performer(performer_id=performer_id, name=name, public_key=pub,
                                     faces=refs, voice_sha256=voice_sha, date_of_birth=dob,
                                     guardian_key=guardian)
    emit(performer, as_json=as_json, render=lambda: stdout.print(
        f"performer [bold]{performer_id}[/] added with {len(refs)} reference face(s)"))


def _check_identifier(value: str, option: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value):
        raise BadInput(f"{option} {value!r}: use letters, digits, '.', '_' or '-' (max 64)")


def _check_voice(path: Path) -> str:
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception:
        raise BadInput(f"cannot read voice file {path}: not a readable audio file") from None
    if info.frames == 0:
        raise BadInput(f"voice file {path} is empty")
    return sha256_file(path)


@performer_app.command("list")
def performer_list(as_json: JsonOpt = False) -> None:
    """List registered performers."""
    performers = _studio().performers()

    def render() -> None:
        table = Table("id", "name", "faces", "voice", "minor until", "key id")
        for p in performers:
            adult = p.adult_on()
            minor = adult.date().isoformat() if adult and adult > datetime.now(UTC) else ""
            table.add_row(p.performer_id, p.name, str(p.face_count),
                          "yes" if p.has_voice else "", minor, p.public_key_id[:16] + "…")
        stdout.print(table)

    emit({"performers": performers}, as_json=as_json, render=render)


# --------------------------------------------------------------------------- consent
@consent_app.command("draft")
def consent_draft(
    performer: Annotated[str, typer.Option("--performer")],
    use: Annotated[list[str], typer.Option("--use", help="dubbing, lip_sync, reenactment, "
                                                          "avatar, voice_clone")],
    valid_until: Annotated[str, typer.Option("--valid-until", help="YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="Grant file to write.")],
    description: Annotated[str, typer.Option(
        "--description", help="Plain-language description of the intended use.")],
    language: Annotated[list[str] | None, typer.Option("--language")] = None,
    production: Annotated[list[str] | None, typer.Option("--production")] = None,
    territory: Annotated[list[str] | None, typer.Option("--territory")] = None,
    valid_from: Annotated[str | None, typer.Option("--valid-from", help="YYYY-MM-DD")] = None,
    max_renders: Annotated[int | None, typer.Option("--max-renders", min=1)] = None,
    voice_clone: Annotated[bool, typer.Option("--voice-clone")] = False,
    content_tag: Annotated[list[str] | None, typer.Option("--content-tag")] = None,
    restrictions: Annotated[str, typer.Option("--restrictions")] = "",
    compensation_ref: Annotated[str | None, typer.Option("--compensation-ref")] = None,
    contract: Annotated[Path | None, typer.Option(
        "--contract", help="Signed contract file (its SHA-256 is kept)")] = None,
    consent_evidence: Annotated[Path | None, typer.Option("--consent-evidence")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write an unsigned grant for the performer to read and sign."""
    from consent.models import GrantTerms, SignedGrant

    uses = list(use) + (["voice_clone"] if voice_clone else [])
    start = parse_when(valid_from, field="--valid-from") if valid_from else datetime.now(UTC)
    doc = {
        "performer_id": performer, "uses": uses, "description": description,
        "languages": language or [], "territories": territory or [],
        "productions": production or [], "valid_from": start.isoformat(),
        "valid_until": parse_when(valid_until, field="--valid-until").isoformat(),
        "max_renders": max_renders, "content_restrictions": restrictions,
        "content_tags": content_tag or [], "compensation_ref": compensation_ref,
        "contract_sha256": sha256_file(contract) if contract else None,
        "consent_evidence_sha256": sha256_file(consent_evidence) if consent_evidence else None,
    }
    import json

    grant = GrantTerms.from_json(json.dumps(doc), source="grant")
    signed = SignedGrant(grant=grant)
    write_document(out, signed.model_dump_json(indent=2) + "\n")
    emit({"grant_id": grant.grant_id, "file": str(out), "grant": grant}, as_json=as_json,
         render=lambda: stdout.print(f"draft grant {grant.grant_id} written to {out}; "
                                     "the performer signs it with `likeness consent sign`"))


@consent_app.command("sign")
def consent_sign(
    grant_file: Annotated[Path, typer.Argument(help="GRANT.json")],
    key: Annotated[Path, typer.Option("--key", help="Performer's or guardian's private key.")],
    guardian: Annotated[bool, typer.Option("--guardian", help="Sign as guardian.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Add the performer's (or guardian's) signature to a grant file."""
    from consent.grants import sign_as_person
    from consent.models import SignedGrant
    from consent.signing import SigningKey

    signed = SignedGrant.from_file(grant_file)
    updated = sign_as_person(signed, SigningKey.from_file(key), guardian=guardian)
    write_document(grant_file, updated.model_dump_json(indent=2) + "\n")
    role = "guardian" if guardian else "performer"
    emit({"grant_id": signed.grant.grant_id, "signed_as": role}, as_json=as_json,
         render=lambda: stdout.print(f"grant {signed.grant.grant_id} signed as {role}"))


@consent_app.command("register")
def consent_register(grant_file: Annotated[Path, typer.Argument(help="GRANT.json")],
                     as_json: JsonOpt = False) -> None:
    """Verify the signatures, countersign with the studio key, store and log the grant."""
    from consent.models import SignedGrant

    signed = SignedGrant.from_file(grant_file)
    registered = _studio().register_grant(signed)
    g = registered.grant
    emit({"grant_id": g.grant_id, "performer_id": g.performer_id, "registered": True,
          "grant": registered}, as_json=as_json,
         render=lambda: stdout.print(f"[bold green]registered[/] grant {g.grant_id} for "
                                     f"{g.performer_id}: {', '.join(g.uses)}"))


@consent_app.command("revoke")
def consent_revoke(
    grant_id: Annotated[str, typer.Argument()],
    key: Annotated[Path | None, typer.Option("--key", help="Performer's/guardian's key.")] = None,
    studio: Annotated[bool, typer.Option("--studio", help="Revoke with the studio key.")] = False,
    reason: Annotated[str, typer.Option("--reason")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Revoke a grant; takes effect for every render not yet published."""
    from consent.signing import SigningKey

    if (key is None) == (not studio):
        raise BadInput("give exactly one of --key FILE or --studio")
    signer = SigningKey.from_file(key) if key else None
    revocation = _studio().revoke(grant_id, key=signer, reason=reason)
    emit(revocation, as_json=as_json, render=lambda: stdout.print(
        f"[bold red]revoked[/] grant {grant_id} (by {revocation.revoked_by})"))


@consent_app.command("list")
def consent_list(performer: Annotated[str | None, typer.Option("--performer")] = None,
                 as_json: JsonOpt = False) -> None:
    """List registered grants with their status and render budget."""
    rows = _studio().grants(performer)
    now = datetime.now(UTC)

    def status(g, revoked: bool) -> str:  # noqa: ANN001
        if revoked:
            return "revoked"
        if now < g.valid_from:
            return "not yet valid"
        return "expired" if now >= g.valid_until else "active"

    data = [{"grant_id": s.grant.grant_id, "performer_id": s.grant.performer_id,
             "uses": list(s.grant.uses), "languages": list(s.grant.languages),
             "productions": list(s.grant.productions),
             "valid_from": s.grant.valid_from, "valid_until": s.grant.valid_until,
             "renders_used": used, "max_renders": s.grant.max_renders,
             "status": status(s.grant, revoked)} for s, used, revoked in rows]

    def render() -> None:
        table = Table("performer", "uses", "languages", "until", "renders", "status")
        table.add_column("grant", no_wrap=True, min_width=38)
        for d in data:
            budget = f"{d['renders_used']}/{d['max_renders'] or '∞'}"
            table.add_row(d["performer_id"], ", ".join(d["uses"]),
                          ", ".join(d["languages"]) or "any",
                          d["valid_until"].date().isoformat(), budget, d["status"],
                          d["grant_id"])
        stdout.print(table)

    emit({"grants": data}, as_json=as_json, render=render)


@consent_app.command("check")
def consent_check(
    performer: Annotated[str, typer.Option("--performer")],
    use: Annotated[list[str], typer.Option("--use")],
    language: Annotated[str | None, typer.Option("--language")] = None,
    territory: Annotated[str | None, typer.Option("--territory")] = None,
    production: Annotated[str | None, typer.Option("--production")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the gate (without taking a render from the budget): exit 0 allowed, 3 denied."""
    import json

    from consent.models import RenderRequest

    request = RenderRequest.from_json(json.dumps({
        "performer_id": performer, "uses": use, "language": language, "territory": territory,
        "production": production, "reserve": False}), source="request")
    decision = _studio().authorize(request)
    emit(decision, as_json=as_json, render=lambda: stdout.print(
        f"[bold green]allowed[/] by {', '.join(decision.grant_ids)}" if decision.allowed
        else "[bold red]denied[/]"))
    if not decision.allowed:
        raise ConsentDenied(f"consent denied for {performer} ({len(decision.reasons)} "
                            "reason(s))", reasons=list(decision.reasons))


# --------------------------------------------------------------------------- publish / verify
@app.command()
def stamp(
    source: Annotated[Path, typer.Argument(help="Existing video to publish.", metavar="INPUT")],
    performer: Annotated[str, typer.Option("--performer")],
    use: Annotated[list[str], typer.Option("--use")],
    out: Annotated[Path, typer.Option("--out", help="OUT.mp4")],
    language: Annotated[str | None, typer.Option("--language")] = None,
    production: Annotated[str | None, typer.Option("--production")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish an existing file under a consent decision (the same publish path)."""
    import json

    from consent.models import RenderRequest
    from flows.stamp import stamp_file

    # validate the request's fields (uses, language) before touching media
    request = RenderRequest.from_json(json.dumps({
        "performer_id": performer, "uses": use, "language": language,
        "production": production}), source="request")
    studio = _studio()
    with frame_progress("publishing", quiet=as_json) as on_frame:
        decision, receipt = stamp_file(studio, source=source, performer_id=performer,
                                       uses=list(request.uses), language=request.language,
                                       production=production, out=out,
                                       face_engine=studio.settings.studio.face_engine,
                                       on_frame=on_frame)
    data = {"out": str(receipt.out), "render_id": receipt.render_id,
            "decision_id": receipt.decision_id, "grant_ids": list(receipt.grant_ids),
            "ledger_seq": receipt.ledger_seq, "entry_hash": receipt.entry_hash,
            "frames": receipt.frames, "visible_label": receipt.label}
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"[bold green]published[/] {receipt.out}  render {receipt.render_id}  "
        f"ledger #{receipt.ledger_seq}"))


@app.command()
def dub(
    video: Annotated[Path, typer.Argument(help="The performer's video.", metavar="VIDEO")],
    language: Annotated[str, typer.Option("--language", help="Target language, e.g. es.")],
    out: Annotated[Path, typer.Option("--out", help="OUT.mp4")],
    performer: Annotated[str, typer.Option("--performer", help="Whose likeness is altered.")],
    script: Annotated[Path | None, typer.Option(
        "--script", help="Target-language subtitles (.srt/.vtt); else ASR + MT.")] = None,
    voice: Annotated[str | None, typer.Option("--voice")] = None,
    lipsync: Annotated[str, typer.Option("--lipsync", help="|".join(get_args(LipSyncName)))
                       ] = "auto",
    production: Annotated[str | None, typer.Option("--production")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Dub a video into another language with lip-synced speech (a Prefect flow)."""
    from flows.dub import DubRequest, run_dub

    studio = _studio()
    # validate everything cheap first: a typo must not wait for a Prefect server
    DubRequest.build(video=video, language=language, out=out, script=script,
                     performer=performer, voice=voice, lipsync=lipsync, production=production)
    if not as_json:
        stderr.print(f"dubbing {video.name} into {language} (Prefect flow; the first run in a "
                     "process starts a local server)…")
    result = run_dub(studio, video=video, language=language, out=out, script=script,
                     performer=performer, voice=voice, lipsync=lipsync, production=production)

    def render() -> None:
        stdout.print(f"[bold green]published[/] {result.out}  render {result.render_id}")
        stdout.print(f"  {len(result.cues)} cues, {len(result.cues_not_fitting)} not fitting; "
                     f"engines {', '.join(result.engines)}")

    emit(result.model_dump(mode="json"), as_json=as_json, render=render)


@app.command()
def reenact(
    target: Annotated[Path, typer.Option("--target", help="The performer: VIDEO or IMG.")],
    driver: Annotated[Path, typer.Option("--driver", help="Video whose expressions drive it.")],
    performer: Annotated[str, typer.Option("--performer")],
    out: Annotated[Path, typer.Option("--out", help="OUT.mp4")],
    production: Annotated[str | None, typer.Option("--production")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Transfer a driver's expressions onto a consenting performer (a Prefect flow)."""
    from flows.reenact import ReenactRequest, run_reenact

    studio = _studio()
    ReenactRequest.build(target=target, driver=driver, performer=performer, out=out,
                         production=production)  # cheap checks before Prefect starts
    if not as_json:
        stderr.print(f"reenacting {target.name} driven by {driver.name} (Prefect flow)…")
    result = run_reenact(studio, target=target, driver=driver, performer=performer, out=out,
                         production=production)
    emit(result.model_dump(mode="json"), as_json=as_json, render=lambda: stdout.print(
        f"[bold green]published[/] {result.out}  render {result.render_id}  "
        f"{result.frames} frames"))


@app.command()
def verify(file: Annotated[Path, typer.Argument(help="Media file to check.")],
           as_json: JsonOpt = False) -> None:
    """intact (0) | derived (5) | tampered (4) | unknown (6): manifest, watermark, ledger."""
    from provenance.c2pa.certs import ROOT_CERT_NAME
    from provenance.verify import verify_file

    studio = _studio()
    root = studio.c2pa_dir / ROOT_CERT_NAME
    with studio.session() as session:
        report = verify_file(file, session=session, studio_key=studio.verify_key,
                             trust_anchor_pem=root.read_bytes(),
                             watermark_key=studio.watermark_key)

    def render() -> None:
        color = {"intact": "green", "derived": "yellow", "tampered": "red",
                 "unknown": "magenta"}[report.status]
        stdout.print(f"[bold {color}]{report.status}[/]  {file}")
        if report.render_id:
            stdout.print(f"  render {report.render_id}  performer {report.performer_id}  "
                         f"grants {', '.join(report.grant_ids)}  uses {', '.join(report.uses)}")
        if report.rendered_at:
            stdout.print(f"  rendered {report.rendered_at}")
        m = report.manifest
        stdout.print(f"  C2PA: {m.get('validation_state') or 'none'}   "
                     f"video watermark: {_wm(report.video_watermark)}   "
                     f"audio watermark: {_wm(report.audio_watermark)}")
        if report.ledger:
            stdout.print(f"  ledger entry #{report.ledger['seq']} proven in tree of "
                         f"{report.ledger['tree_size']}")
        for r in report.revoked_since:
            stdout.print(f"  [red]revoked since[/]: {r}")
        for reason in report.reasons:
            stdout.print(f"  - {reason}", markup=False)

    emit(report.to_dict(), as_json=as_json, render=render)
    if report.status == "tampered":
        stderr.print(f"error: {file} is tampered: {'; '.join(report.reasons)}", markup=False,
                     soft_wrap=True)
    raise typer.Exit(report.exit_code)


def _wm(finding: object) -> str:
    if finding is None:
        return "n/a"
    if getattr(finding, "found", False):
        return f"{finding.render_id} ({finding.confidence:.3f})"  # type: ignore[attr-defined]
    return "none"


# --------------------------------------------------------------------------- models
def _models_report(*, verify: bool, as_json: bool) -> None:
    from models.store import check_models, list_models, raise_for_mismatch

    models_dir = _settings().models_dir
    statuses = check_models(models_dir=models_dir) if verify else list_models(
        models_dir=models_dir)
    data = {"models_dir": str(models_dir), "models": statuses}

    def render() -> None:
        table = Table("engine", "file", "state", "source", "license", "commercial")
        for m in statuses:
            color = {"ok": "green", "installed": "green", "missing": "yellow",
                     "mismatch": "red", "unpinned": "cyan"}.get(m.state, "white")
            table.add_row(m.engine, m.name, f"[{color}]{m.state}[/]", m.source, m.license,
                          "yes" if m.commercial_use else "[red]no[/]")
        stdout.print(table)
        stdout.print(f"user models folder: {models_dir}")

    emit(data, as_json=as_json, render=render)
    if verify:
        raise_for_mismatch(statuses)


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Every engine's weight files: source, SHA-256, license, commercial use, installed?"""
    _models_report(verify=False, as_json=as_json)


@models_app.command("check")
def models_check(as_json: JsonOpt = False) -> None:
    """Hash every installed weight file against its pin (exit 4 on a mismatch)."""
    _models_report(verify=True, as_json=as_json)


# --------------------------------------------------------------------------- audit
@audit_app.command("verify")
def audit_verify(
    export: Annotated[Path | None, typer.Option(
        "--export", help="Verify a JSON-lines export offline instead of the registry.")] = None,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="Studio public key for --export (default: the one in the file).")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every entry, the hash chain, the Merkle tree and the signed tree heads (exit 4)."""
    from consent.signing import VerifyKey
    from provenance.ledger.log import read_export, verify_export, verify_ledger

    if export is not None:
        key = VerifyKey.from_file(public_key) if public_key else None
        report = verify_export(read_export(export), key)
    else:
        studio = _studio()
        with studio.session() as session:
            report = verify_ledger(session, studio.verify_key)
    data = {"status": "intact", "entries": report.entries, "tree_heads": report.tree_heads,
            "root_hash": report.root_hash, "signatures_checked": report.signatures_checked}
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"[bold green]ledger intact[/]: {report.entries} entries, {report.tree_heads} signed "
        f"tree heads, root {report.root_hash[:16]}…"))


@audit_app.command("show")
def audit_show(render: Annotated[str | None, typer.Option(
                   "--render", help="Only the entries of this render id (16 hex digits).")] = None,
               limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
               as_json: JsonOpt = False) -> None:
    """Show ledger entries, newest last."""
    import json

    from sqlalchemy import select

    from provenance.ledger.log import entries_for_render
    from provenance.ledger.store import EntryRow

    studio = _studio()
    with studio.session() as session:
        if render is not None:
            try:
                rid = int(render, 16)
            except ValueError:
                raise BadInput(f"--render {render!r} is not a hex render id") from None
            rows = entries_for_render(session, rid)
        else:
            rows = list(reversed(session.scalars(
                select(EntryRow).order_by(EntryRow.seq.desc()).limit(limit)).all()))
    entries = [{"seq": r.seq, "kind": r.kind, "at": r.at, "leaf_hash": r.leaf_hash,
                "payload": json.loads(r.body)["payload"]} for r in rows]

    def render_table() -> None:
        table = Table("seq", "at", "kind", "detail")
        for e in entries:
            p = e["payload"]
            detail = ", ".join(f"{k}={v}" for k, v in p.items()
                               if k in ("performer_id", "grant_id", "render_id", "allowed",
                                        "output", "reason"))
            table.add_row(str(e["seq"]), e["at"].strftime("%Y-%m-%d %H:%M:%S"), e["kind"],
                          detail)
        stdout.print(table)

    emit({"entries": entries}, as_json=as_json, render=render_table)


@audit_app.command("export")
def audit_export(out: Annotated[Path, typer.Option("--out", help="JSON-lines file.")],
                 as_json: JsonOpt = False) -> None:
    """Export the ledger (entries and signed tree heads) for offline verification."""
    from provenance.ledger.log import export_lines

    studio = _studio()
    with studio.session() as session:
        lines = list(export_lines(session, studio.verify_key))
    write_document(out, "\n".join(lines) + "\n")
    emit({"file": str(out), "lines": len(lines)}, as_json=as_json,
         render=lambda: stdout.print(f"ledger exported to {out} ({len(lines) - 1} records)"))


# --------------------------------------------------------------------------- demo
@app.command()
def demo(out: Annotated[Path | None, typer.Option("--out", help="Folder for the demo.")] = None,
         as_json: JsonOpt = False) -> None:
    """A complete run on bundled media, in a fresh studio home; no arguments needed."""
    from likeness.demo import run_demo
    from likeness.errors import InternalError

    result = run_demo(out or Path("demo-out"), as_json=as_json)
    emit(result, as_json=as_json, render=lambda: stdout.print(
        f"\n[bold green]demo complete[/]: published {result['published']} and the Spanish "
        f"dub {result['dubbed']}; studio home {result['home']}" if result["ok"]
        else "[bold red]demo finished with unexpected results[/]"))
    if not result["ok"]:
        raise InternalError("the demo did not end as expected: " + str(result["verify"]))


# --------------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        code = app(args=args, standalone_mode=False, prog_name="likeness")
    except LikenessError as exc:
        if debug:
            traceback.print_exc()
        stderr.print(f"error: {exc.diagnostics()}", markup=False, soft_wrap=True)
        if isinstance(exc, ConsentDenied):
            for reason in exc.reasons:
                stderr.print(f"  - {reason}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        stderr.print("error: aborted", markup=False)
        sys.exit(130)
    except NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else "")
        sys.exit(2)
    except ClickException as exc:
        stderr.print(f"error: {exc.format_message()}", markup=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("error: interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place that catches everything
        if debug:
            traceback.print_exc()
        stderr.print(f"error: internal error: {type(exc).__name__}: {exc}", markup=False,
                     soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
