"""`likeness keys` and `likeness performer`: the people whose likeness is licensed, and
the key pairs they (or their guardians) sign grants with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from likeness.cli.common import JsonOpt, literal, open_studio, parse_when
from likeness.errors import BadInput
from likeness.output import emit, stdout

keys_app = typer.Typer(no_args_is_help=True, help="Ed25519 key pairs for performers and guardians.")
performer_app = typer.Typer(no_args_is_help=True, help="Performers and their reference faces.")


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
        f"key pair written: {literal(out)} (private, 0600) and {literal(pub)}\n"
        f"key id {key.verify_key.key_id}"))


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
    reel: Annotated[Path | None, typer.Option(
        "--reel", help="Avatar reel: VIDEO of the performer talking and idling.")] = None,
    look_alike_of: Annotated[list[str] | None, typer.Option(
        "--look-alike-of", help="A registered performer this different person looks like "
                                "(the override is logged).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a performer with reference face embeddings and a public key."""
    from consent.signing import VerifyKey

    pub = VerifyKey.from_file(public_key)
    guardian = VerifyKey.from_file(guardian_key) if guardian_key else None
    dob = parse_when(date_of_birth, field="--date-of-birth").date() if date_of_birth else None
    studio = open_studio()
    if reel is not None:  # refused before enrolment: a bad reel leaves no performer
        studio.check_reel(reel, face_images=face)
    performer = studio.add_performer(
        performer_id=performer_id, name=name, public_key=pub, face_images=face, voice=voice,
        date_of_birth=dob, guardian_key=guardian, look_alike_of=look_alike_of or [])
    stored = studio.add_reel(performer_id, reel) if reel is not None else None
    data = performer.model_dump(mode="json")
    if stored is not None:
        data["reel_sha256"] = stored.sha256
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"performer [bold]{literal(performer_id)}[/] added with {performer.face_count} "
        "reference face(s)" + (f" and a {stored.duration_s:.0f} s avatar reel"
                               if stored is not None else "")))


@performer_app.command("reel")
def performer_reel(
    performer_id: Annotated[str, typer.Option("--id", help="A registered performer.")],
    reel: Annotated[Path, typer.Argument(help="VIDEO of the performer talking and idling.",
                                         metavar="VIDEO")],
    as_json: JsonOpt = False,
) -> None:
    """Register (or replace) a performer's avatar reel, identity-checked."""
    stored = open_studio().add_reel(performer_id, reel)
    data = {"performer_id": performer_id, "reel_sha256": stored.sha256,
            "duration_s": stored.duration_s, "width": stored.width, "height": stored.height}
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"avatar reel of [bold]{literal(performer_id)}[/] registered "
        f"({stored.duration_s:.1f} s, {stored.width}x{stored.height}, "
        f"sha256 {stored.sha256[:16]}…)"))


@performer_app.command("list")
def performer_list(as_json: JsonOpt = False) -> None:
    """List registered performers."""
    performers = open_studio().performers()

    def render() -> None:
        table = Table("id", "name", "faces", "voice", "minor until", "key id")
        for p in performers:
            adult = p.adult_on()
            minor = adult.date().isoformat() if adult and adult > datetime.now(UTC) else ""
            table.add_row(literal(p.performer_id), literal(p.name), str(p.face_count),
                          "yes" if p.has_voice else "", minor, p.public_key_id[:16] + "…")
        stdout.print(table)

    emit({"performers": performers}, as_json=as_json, render=render)


@performer_app.command("remove")
def performer_remove(
    performer_id: Annotated[str, typer.Argument(help="The performer's id.")],
    key: Annotated[Path | None, typer.Option(
        "--key", help="Performer's or guardian's private key.")] = None,
    studio: Annotated[bool, typer.Option("--studio", help="Remove with the studio key.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Erase a performer's likeness data: embeddings, derived files; revoke every grant.

    The ledger keeps hashes only and stays verifiable; no render is possible afterwards."""
    from consent.signing import SigningKey

    if (key is None) == (not studio):
        raise BadInput("give exactly one of --key FILE or --studio")
    signer = SigningKey.from_file(key) if key else None
    erasure = open_studio().remove_performer(performer_id, key=signer)
    data = {"performer_id": erasure.performer_id, "removed_by": erasure.removed_by,
            "removed_at": erasure.removed_at, "embeddings_erased": erasure.embeddings_erased,
            "files_erased": erasure.files_erased, "grants_revoked": list(erasure.grants_revoked)}
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"performer [bold]{literal(performer_id)}[/] removed (by {erasure.removed_by}): "
        f"{erasure.embeddings_erased} reference embedding(s) and {erasure.files_erased} "
        f"file(s) erased, {len(erasure.grants_revoked)} grant(s) revoked"))
