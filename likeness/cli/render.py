"""The commands that publish media: `stamp`, `dub` and `reenact`.

Each validates its options before anything expensive starts (a typo must not wait for
a Prefect server or a decoder), then hands a checked request to its flow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from likeness.cli.common import JsonOpt, frame_progress, literal, open_studio
from likeness.output import emit, stderr, stdout


def stamp(
    source: Annotated[Path, typer.Argument(help="Existing video to publish.", metavar="INPUT")],
    performer: Annotated[str, typer.Option("--performer")],
    use: Annotated[list[str], typer.Option("--use")],
    out: Annotated[Path, typer.Option("--out", help="OUT.mp4")],
    language: Annotated[str | None, typer.Option("--language")] = None,
    production: Annotated[str | None, typer.Option("--production")] = None,
    territory: Annotated[str | None, typer.Option(
        "--territory", help="Where it is shown (ISO 3166-1, e.g. ES).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish an existing file under a consent decision (the same publish path)."""
    from consent.models import RenderRequest
    from flows.stamp import stamp_file

    # validate the request's fields (uses, language) before touching media
    request = RenderRequest.parse(performer_id=performer, uses=use, language=language,
                                  production=production, territory=territory)
    studio = open_studio()
    with frame_progress("publishing", quiet=as_json) as on_frame:
        decision, receipt = stamp_file(studio.render_context, source=source,
                                       performer_id=performer, uses=list(request.uses),
                                       language=request.language, production=production, out=out,
                                       territory=request.territory,
                                       face_engine=studio.settings.studio.face_engine,
                                       on_frame=on_frame)
    data = {"out": str(receipt.out), "render_id": receipt.render_id,
            "decision_id": receipt.decision_id, "grant_ids": list(receipt.grant_ids),
            "ledger_seq": receipt.ledger_seq, "entry_hash": receipt.entry_hash,
            "frames": receipt.frames, "visible_label": receipt.label}
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"[bold green]published[/] {literal(receipt.out)}  render {receipt.render_id}  "
        f"ledger #{receipt.ledger_seq}"))


def dub(
    video: Annotated[Path, typer.Argument(help="The performer's video.", metavar="VIDEO")],
    language: Annotated[str, typer.Option("--language", help="Target language, e.g. es.")],
    out: Annotated[Path, typer.Option("--out", help="OUT.mp4")],
    performer: Annotated[str, typer.Option("--performer", help="Whose likeness is altered.")],
    script: Annotated[Path | None, typer.Option(
        "--script", help="Target-language subtitles (.srt/.vtt); else ASR + MT.")] = None,
    voice: Annotated[str | None, typer.Option("--voice")] = None,
    lipsync: Annotated[str, typer.Option("--lipsync", help="auto|wav2lip|viseme|none")] = "auto",
    production: Annotated[str | None, typer.Option("--production")] = None,
    territory: Annotated[str | None, typer.Option(
        "--territory", help="Where it is shown (ISO 3166-1, e.g. ES).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Dub a video into another language with lip-synced speech (a Prefect flow)."""
    from flows.dub import DubRequest, run_dub

    studio = open_studio()
    # validate everything cheap first: a typo must not wait for a Prefect server
    request = DubRequest.build(video=video, language=language, out=out, script=script,
                               performer=performer, voice=voice, lipsync=lipsync,
                               production=production, territory=territory)
    _precheck_dub_media(request.video, request.script)
    if not as_json:
        stderr.print(f"dubbing {literal(video.name)} into {literal(language)} (Prefect flow; "
                     "the first run in a process starts a local server)…")
    result = run_dub(studio.render_context, request)

    def render() -> None:
        stdout.print(f"[bold green]published[/] {literal(result.out)}  "
                     f"render {result.render_id}")
        stdout.print(f"  {len(result.cues)} cues, {len(result.cues_not_fitting)} not fitting; "
                     f"engines {literal(', '.join(result.engines))}")

    emit(result.model_dump(mode="json"), as_json=as_json, render=render)


def _precheck_dub_media(video: Path, script: Path | None) -> None:
    """Read the video's header and the subtitles before the flow starts: a bad file is one
    error line now, not 15-25 s later from inside a Prefect run (the flow reads them
    again; parsing a subtitle file costs milliseconds)."""
    from media.probe import probe
    from media.subtitles import load_subtitles
    from provenance.publish import check_watermarkable

    info = probe(video)
    info.require_video()
    info.require_audio()
    check_watermarkable(info)
    if script is not None:
        load_subtitles(script, video_duration=info.duration_s)


def reenact(
    target: Annotated[Path, typer.Option("--target", help="The performer: VIDEO or IMG.")],
    driver: Annotated[Path, typer.Option("--driver", help="Video whose expressions drive it.")],
    performer: Annotated[str, typer.Option("--performer")],
    out: Annotated[Path, typer.Option("--out", help="OUT.mp4")],
    production: Annotated[str | None, typer.Option("--production")] = None,
    territory: Annotated[str | None, typer.Option(
        "--territory", help="Where it is shown (ISO 3166-1, e.g. ES).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Transfer a driver's expressions onto a consenting performer (a Prefect flow)."""
    from flows.reenact import ReenactRequest, run_reenact

    studio = open_studio()
    ReenactRequest.build(target=target, driver=driver, performer=performer, out=out,
                         production=production, territory=territory)  # before Prefect
    if not as_json:
        stderr.print(f"reenacting {literal(target.name)} driven by {literal(driver.name)} "
                     "(Prefect flow)…")
    result = run_reenact(studio.render_context, target=target, driver=driver,
                         performer=performer, out=out, production=production,
                         territory=territory)
    emit(result.model_dump(mode="json"), as_json=as_json, render=lambda: stdout.print(
        f"[bold green]published[/] {literal(result.out)}  render {result.render_id}  "
        f"{result.frames} frames"))
