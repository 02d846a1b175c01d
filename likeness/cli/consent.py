"""`likeness consent`: draft, sign, register, revoke, list and check likeness grants.

These commands touch only the consent core and the registry, so they stay fast: no
media, models or Prefect are imported on their way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from likeness.cli.common import (
    JsonOpt,
    literal,
    load_studio_settings,
    open_studio,
    parse_when,
    sha256_file,
    write_document,
)
from likeness.errors import BadInput, ConsentDenied
from likeness.output import emit, stdout

consent_app = typer.Typer(no_args_is_help=True, help="Likeness grants: draft, sign, register.")


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
    disclose: Annotated[list[str] | None, typer.Option(
        "--disclose", help="A private field the performer agrees to show in published files: "
                           "compensation_ref, contract_sha256, consent_evidence_sha256")] = None,
    studio_key: Annotated[Path | None, typer.Option(
        "--studio-key", help="Public key of the studio the grant is given to "
                             "(default: this studio's).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write an unsigned grant for the performer to read and sign."""
    from consent.models import GrantTerms, SignedGrant
    from consent.signing import VerifyKey

    uses = list(use) + (["voice_clone"] if voice_clone else [])
    start = parse_when(valid_from, field="--valid-from") if valid_from else datetime.now(UTC)
    grant = GrantTerms.parse(
        performer_id=performer, uses=uses, description=description,
        languages=language or [], territories=territory or [], productions=production or [],
        valid_from=start, valid_until=parse_when(valid_until, field="--valid-until"),
        max_renders=max_renders, content_restrictions=restrictions,
        content_tags=content_tag or [], compensation_ref=compensation_ref,
        contract_sha256=sha256_file(contract) if contract else None,
        consent_evidence_sha256=sha256_file(consent_evidence) if consent_evidence else None,
        disclose=disclose or [],
        studio_key_id=VerifyKey.from_file(studio_key or _own_studio_key()).key_id)
    signed = SignedGrant(grant=grant)
    write_document(out, signed.model_dump_json(indent=2) + "\n")
    emit({"grant_id": grant.grant_id, "file": str(out), "grant": grant}, as_json=as_json,
         render=lambda: stdout.print(f"draft grant {grant.grant_id} written to {literal(out)}; "
                                     "the performer signs it with `likeness consent sign`"))


def _own_studio_key() -> Path:
    """The public half of this studio's key, written beside it by `likeness init`."""
    from likeness.studio import STUDIO_KEY_FILE

    pub = load_studio_settings().home / (STUDIO_KEY_FILE + ".pub")
    if not pub.is_file():
        raise BadInput(f"no studio public key at {pub}: a grant names the studio it is "
                       "given to", hint="give --studio-key FILE.pub, or run `likeness init`")
    return pub


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
    registered = open_studio().register_grant(signed)
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
    revocation = open_studio().revoke(grant_id, key=signer, reason=reason)
    emit(revocation, as_json=as_json, render=lambda: stdout.print(
        f"[bold red]revoked[/] grant {literal(grant_id)} (by {revocation.revoked_by})"))


@consent_app.command("list")
def consent_list(performer: Annotated[str | None, typer.Option("--performer")] = None,
                 as_json: JsonOpt = False) -> None:
    """List registered grants with their status and render budget."""
    rows = open_studio().grants(performer)
    now = datetime.now(UTC)
    data = [{"grant_id": s.grant.grant_id, "performer_id": s.grant.performer_id,
             "uses": list(s.grant.uses), "languages": list(s.grant.languages),
             "productions": list(s.grant.productions),
             "valid_from": s.grant.valid_from, "valid_until": s.grant.valid_until,
             "renders_used": used, "max_renders": s.grant.max_renders,
             "status": s.grant.status(now=now, revoked=revoked)} for s, used, revoked in rows]

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
    from consent.models import RenderRequest

    request = RenderRequest.parse(performer_id=performer, uses=use, language=language,
                                  territory=territory, production=production, reserve=False)
    decision = open_studio().authorize(request)
    emit(decision, as_json=as_json, render=lambda: stdout.print(
        f"[bold green]allowed[/] by {', '.join(decision.grant_ids)}" if decision.allowed
        else "[bold red]denied[/]"))
    if not decision.allowed:
        raise ConsentDenied(f"consent denied for {performer} ({len(decision.reasons)} "
                            "reason(s))", reasons=list(decision.reasons))


@consent_app.command("challenge")
def consent_challenge(
    performer: Annotated[str, typer.Option("--performer", help="Whose statement it is for.")],
    minutes: Annotated[int, typer.Option("--minutes", help="Minutes until it expires.")] = 30,
    as_json: JsonOpt = False,
) -> None:
    """A one-time phrase the performer says in their consent statement video."""
    from datetime import timedelta

    from likeness.consent_evidence import issue_challenge

    if not 1 <= minutes <= 24 * 60:
        raise BadInput("--minutes must be between 1 and 1440")
    challenge = issue_challenge(open_studio(), performer_id=performer,
                                ttl=timedelta(minutes=minutes))
    data = {"challenge_id": challenge.challenge_id, "performer_id": performer,
            "phrase": challenge.phrase, "expires_at": challenge.expires_at}
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"challenge {literal(challenge.challenge_id)} for {literal(performer)}: say "
        f"[bold]{literal(challenge.phrase)}[/] after reading the grant's description "
        f"(expires {challenge.expires_at:%H:%M} UTC, single use)"))


@consent_app.command("evidence")
def consent_evidence(
    grant: Annotated[Path, typer.Argument(help="The draft grant (before it is signed).")],
    video: Annotated[Path, typer.Option("--video", help="The recorded statement.")],
    challenge: Annotated[str, typer.Option("--challenge", help="The challenge id.")],
    language: Annotated[str | None, typer.Option(
        "--language", help="Language the statement is spoken in (default: detected). "
                           "Not the grant's languages: those are the renders'.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a consent statement video and bind it into the draft grant (exit 3: it does
    not show consent; nothing is written then)."""
    from likeness.consent_evidence import verify_evidence

    result = verify_evidence(open_studio(), grant_path=grant, video=video,
                             challenge_id=challenge, write_grant=write_document,
                             language=language)
    data = {"grant_id": result.grant_id, "performer_id": result.performer_id,
            "video_sha256": result.video_sha256, "stored": str(result.stored_at),
            "checks": list(result.checks)}

    def render() -> None:
        for check in result.checks:
            stdout.print(f"[green]pass[/] {check['name']}: {literal(str(check['detail']))}")
        stdout.print(f"statement {result.video_sha256[:16]}… bound into grant "
                     f"{literal(result.grant_id)}; the performer can sign it now")

    emit(data, as_json=as_json, render=render)
