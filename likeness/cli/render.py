"""The commands that publish media: `stamp`, `dub`, `reenact` and `avatar`.

Each validates its options before anything expensive starts (a typo must not wait for
a Prefect server or a decoder), then hands a checked request to its flow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, get_args

import typer

from likeness.cli.common import JsonOpt, TerritoryOpt, frame_progress, literal, open_studio
from likeness.output import emit, stderr, stdout
from models.registry import LipSyncName


def stamp(
    source: Annotated[Path, typer.Argument(help="Existing video to publish.", metavar="INPUT")],
    performer: Annotated[str, typer.Option("--performer")],
    use: Annotated[list[str], typer.Option("--use")],
    out: Annotated[Path, typer.Option("--out", help="OUT.mp4")],
    language: Annotated[str | None, typer.Option("--language")] = None,
    production: Annotated[str | None, typer.Option("--production")] = None,
    territory: TerritoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish an existing file under a consent decision (the same publish path)."""
    from consent.models import RenderRequest
    from flows.stages import StageClock, publish_stages, settle_dead_renders
    from flows.stamp import stamp_file

    # validate the request's fields (uses, language) before touching media
    request = RenderRequest.parse(performer_id=performer, uses=use, language=language,
                                  production=production, territory=territory)
    studio = open_studio()
    settle_dead_renders(studio.render_context, out)
    clock = StageClock()
    with frame_progress("publishing", quiet=as_json) as on_frame:
        decision, receipt = stamp_file(studio.render_context, source=source,
                                       performer_id=performer, uses=list(request.uses),
                                       language=request.language, production=production, out=out,
                                       territory=request.territory,
                                       face_engine=studio.settings.studio.face_engine,
                                       on_frame=on_frame, clock=clock)
    data = {"out": str(receipt.out), "render_id": receipt.render_id,
            "decision_id": receipt.decision_id, "grant_ids": list(receipt.grant_ids),
            "ledger_seq": receipt.ledger_seq, "entry_hash": receipt.entry_hash,
            "frames": receipt.frames, "visible_label": receipt.label,
            "audio_watermark": receipt.audio_watermark, "stages_s": clock.report(),
            "publish_stages_s": publish_stages(receipt)}
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
    lipsync: Annotated[str, typer.Option("--lipsync", help="|".join(get_args(LipSyncName)))
                       ] = "auto",
    fit: Annotated[str, typer.Option(
        "--fit", help="What gives when a line is longer than its slot: speech (sped up to "
                      "1.35x, then later lines move), video (the picture and its sound slow "
                      "around the line, at most 1.25x, then speech as above) or both (split "
                      "evenly).")] = "speech",
    separation: Annotated[str, typer.Option(
        "--separation", help="Split the original voice from music and effects first: "
                             "auto (demucs when a checkpoint is in place, else none: the "
                             "dialogue is removed in time)|demucs|none.")] = "auto",
    separation_weights: Annotated[Path | None, typer.Option(
        "--separation-weights", help="An HT-Demucs checkpoint (.th, Demucs' own format); "
                                     "default: the first models/demucs/*.th.")] = None,
    review: Annotated[bool, typer.Option(
        "--review", help="Write the lines as an SRT (--subtitles, else OUT.srt) and stop "
                         "before consent; correct it, re-run with --script.")] = False,
    subtitles: Annotated[Path | None, typer.Option(
        "--subtitles", help="OUT.srt|.vtt: the new-language subtitles, timed to the new "
                            "speech.")] = None,
    production: Annotated[str | None, typer.Option("--production")] = None,
    territory: TerritoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Dub a video into another language with lip-synced speech (a Prefect flow)."""
    from flows.dub import DubRequest, DubReview, preflight_engines, run_dub
    from flows.stages import settle_dead_renders

    studio = open_studio()
    # validate everything cheap first: a typo must not wait for a Prefect server
    request = DubRequest.build(video=video, language=language, out=out, script=script,
                               performer=performer, voice=voice, lipsync=lipsync, fit=fit,
                               separation=separation, separation_weights=separation_weights,
                               review=review, subtitles=subtitles, production=production,
                               territory=territory)
    _precheck_dub_media(request.video, request.script)
    preflight_engines(request, studio.render_context.settings)
    if not request.review:
        settle_dead_renders(studio.render_context, request.out)
    if not as_json:
        stderr.print(f"dubbing {literal(video.name)} into {literal(language)} (Prefect flow; "
                     "the first run in a process starts a local server)…")
    result = run_dub(studio.render_context, request)
    if isinstance(result, DubReview):
        review_result = result
        emit(result.model_dump(mode="json"), as_json=as_json, render=lambda: stdout.print(
            f"[bold]review[/] {review_result.cues} lines written to "
            f"{literal(review_result.script)}; nothing rendered. Correct them, then re-run "
            f"with --script {literal(review_result.script)}"))
        return

    def render() -> None:
        stdout.print(f"[bold green]published[/] {literal(result.out)}  "
                     f"render {result.render_id}")
        cut = [c.index for c in result.cues if c.cut_s > 0]
        if cut:
            stderr.print(f"warning: the lines outlast the video even sped up to the cap; "
                         f"cue(s) {', '.join(map(str, cut))} cut at its end (shorten them "
                         "with --review)")
        stdout.print(f"  {len(result.cues)} cues, {len(result.cues_not_fitting)} not fitting; "
                     f"engines {literal(', '.join(result.engines))}")
        stdout.print(f"  mix {result.mix.loudness_lufs} LUFS, true peak "
                     f"{result.mix.true_peak_dbtp} dBTP; original dialogue removed "
                     f"({result.mix.dialogue_regions} regions, {result.mix.dialogue_detection}); "
                     f"cue report {literal(result.sidecar)}")

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
    territory: TerritoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Transfer a driver's expressions onto a consenting performer (a Prefect flow)."""
    from flows.reenact import ReenactRequest, run_reenact
    from flows.stages import settle_dead_renders

    studio = open_studio()
    ReenactRequest.build(target=target, driver=driver, performer=performer, out=out,
                         production=production, territory=territory)  # before Prefect
    settle_dead_renders(studio.render_context, out)
    if not as_json:
        stderr.print(f"reenacting {literal(target.name)} driven by {literal(driver.name)} "
                     "(Prefect flow)…")
    result = run_reenact(studio.render_context, target=target, driver=driver,
                         performer=performer, out=out, production=production,
                         territory=territory)
    emit(result.model_dump(mode="json"), as_json=as_json, render=lambda: stdout.print(
        f"[bold green]published[/] {literal(result.out)}  render {result.render_id}  "
        f"{result.frames} frames"))


def avatar(
    performer: Annotated[str, typer.Option("--performer", help="Whose licensed likeness.")],
    language: Annotated[str, typer.Option("--language", help="Language spoken, e.g. en.")],
    out: Annotated[Path, typer.Option("--out", help="OUT.mp4")],
    text: Annotated[str | None, typer.Option("--text", help="The lines to speak.")] = None,
    script: Annotated[Path | None, typer.Option(
        "--script", help="Timed lines (.srt/.vtt) instead of --text.")] = None,
    still: Annotated[Path | None, typer.Option(
        "--still", help="A still of the performer (IMG); else their registered reel.")
    ] = None,
    background: Annotated[Path | None, typer.Option(
        "--background", help="New backdrop: IMG behind a --still; IMG or VIDEO (looped) "
                             "behind the reel's performer, who is keyed off the reel.")] = None,
    voice: Annotated[str | None, typer.Option("--voice")] = None,
    lipsync: Annotated[str, typer.Option("--lipsync", help="|".join(get_args(LipSyncName)))
                       ] = "auto",
    subtitles: Annotated[bool, typer.Option(
        "--subtitles", help="Also write the lines as OUT.srt.")] = False,
    production: Annotated[str | None, typer.Option("--production")] = None,
    as_json: JsonOpt = False,
) -> None:
    """A licensed avatar of a performer speaking new lines (a Prefect flow)."""
    from flows.avatar import AvatarRequest, run_avatar
    from flows.stages import settle_dead_renders

    studio = open_studio()
    request = AvatarRequest.build(performer=performer, language=language, out=out, text=text,
                                  script=script, still=still, background=background,
                                  voice=voice, lipsync=lipsync, subtitles=subtitles,
                                  production=production)
    request.check_likeness(studio.render_context)
    settle_dead_renders(studio.render_context, request.out)
    if not as_json:
        stderr.print(f"making an avatar of {literal(performer)} in {literal(language)} "
                     "(Prefect flow)…")
    result = run_avatar(studio.render_context, request)

    def render() -> None:
        stdout.print(f"[bold green]published[/] {literal(result.out)}  "
                     f"render {result.render_id}")
        stdout.print(f"  from the {result.likeness}, {result.width}x{result.height} at "
                     f"{result.fps} fps, {result.duration_s:.1f} s, {len(result.cues)} lines; "
                     f"engines {literal(', '.join(result.engines))}")
        if result.subtitles is not None:
            stdout.print(f"  subtitles {literal(result.subtitles)}")

    emit(result.model_dump(mode="json"), as_json=as_json, render=render)
