"""The footage lip-sync engine: the performer's own mouth, re-sequenced to new speech.

Registry contract (`models.registry`): ``footage`` is chosen by ``auto`` whenever the
request hands it footage of the performer (option ``footage``: a dub's source video,
an avatar's reel) that lasts long enough; otherwise ``auto`` moves on to the viseme
engine. Options: ``footage`` (video path), ``performer`` and ``cache_dir`` (where the
bank is cached, under that performer's folder), or a ready ``bank`` (`MouthBank`);
``tracks`` (`SourceTracks`) keeps the faces the bank build followed, for the render.

Render: the mouth-shape track comes from the phoneme timings or the audio, as for the
viseme engine; frames are buffered in windows of `WINDOW_FRAMES`, each window's bank
path is solved at once (`select.viterbi`) and composited (`synth.FootageSynth`). On the
first window a few of the chosen pastes are read back with the face engine's landmark
fit and the gap error they show is inverted from then on (`calibrate`); after that each
paste is read back once and redone when its lips still land off target (`_bank_paste`).
A frame whose own mouth is already closed as the speech wants it keeps it (real pixels
beat any paste; `_shows_it_already`). The optional
identity guard (`identity_guard`, off by default: it costs speed and the mouth's
correlation with the speech) embeds a few of the pastes that close the frame's own
mouth most and closes less where they read as someone else. A dub's
identity scan can hand the engine its decoded frames (`frame_sink`, `SourceFed`), so
the bank needs no decode of its own.
Footage with too few usable frames or too little mouth variety is said so (a warning
and `FootageStats.note`) and the render is the viseme engine's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from likeness.errors import BadInput
from media.timed_text import PhonemeTiming
from models.face.base import FaceEngine, LandmarkRefiner, check_rgb_image
from models.face.landmarks import (
    MOUTH,
    MOUTH_CORNER_LEFT_INDEX,
    MOUTH_CORNER_RIGHT_INDEX,
    NOSE_TIP_INDEX,
)
from models.face.mouth_interior import mouth_gap_iod
from models.face.tracking import SourceTracks, TrackedFace
from models.face.warp import face_frame, untangle_mouth
from models.lipsync.base import FrameSink
from models.lipsync.footage.bank import (
    MIN_CONTRAST_SHARE,
    OCCLUSION_SPREAD,
    MouthBank,
    canonical_crop,
    lip_measures,
    local_to_canonical,
    occlusion_floor,
    unbalanced,
)
from models.lipsync.footage.calibrate import (
    GapCorrection,
    at_least_closed,
    fit,
    gap_of,
    probe_pastes,
)
from models.lipsync.footage.identity_guard import closing_limits
from models.lipsync.footage.select import (
    Range,
    Targets,
    needs_fallback,
    shape_distances,
    target_costs,
    targets_for,
    textured_gap,
    viterbi,
)
from models.lipsync.footage.synth import FootageSynth
from models.lipsync.mouth import MouthShape, MouthTrack, check_fps, mouth_track
from models.lipsync.viseme import VisemeLipSync
from models.stream import FrameTally, RenderStats, paired
from models.weights import WeightFile

if TYPE_CHECKING:
    from models.lipsync.footage.store import BankFeed

LOG = logging.getLogger(__name__)

WEIGHTS: tuple[WeightFile, ...] = ()  # the performer's own pixels: no weight files
MIN_FOOTAGE_S = 5.0
MIN_BANK_ENTRIES = 50  # 2 s of usable frames at 25 fps (5 s of footage keeps ~60%)
MIN_GAP_SPAN_IOD = 0.06  # the footage must show the mouth both nearly closed and open
WINDOW_FRAMES = 50
HIDDEN_SHARE = 0.5  # of the bank's median lip contrast: below it the mouth is hidden
PROBES = 24  # pastes read back on the first window to fit the gap correction
READBACK_TOLERANCE_IOD = 0.01  # a paste whose lips read back farther is redone
KEEP_OWN_MOUTH_IOD = 0.03  # a closed frame this near the wanted gap keeps its own mouth
KEEP_CLOSED_SHARE = 0.15  # of the bank's opening range above its closed gap: "closed"


@dataclass(frozen=True)
class FootageStats(RenderStats):
    """`RenderStats` plus how the footage served: bank size, bank and fallback frames."""

    bank_entries: int = 0
    bank_frames: int = 0
    fallback_frames: int = 0
    note: str = ""
    gap_correction: GapCorrection | None = None
    identity_checks: int = 0  # pastes embedded by the identity guard
    identity_bounded_frames: int = 0  # frames whose closing it bounded
    readback_repastes: int = 0  # pastes redone because their lips read back off target
    own_mouth_frames: int = 0  # closed frames left with their own mouth (`passed_through`)


def bank_shortfall(bank: MouthBank) -> str | None:
    """Why `bank` cannot carry a render, or None when it can."""
    if bank.size < MIN_BANK_ENTRIES:
        return (f"too little usable footage: {bank.size} usable mouth frames of "
                f"{bank.frames_seen} (needs {MIN_BANK_ENTRIES}: about {MIN_FOOTAGE_S:g} s of a "
                "frontal, sharp, unoccluded face)")
    span = float(np.percentile(bank.gap, 98) - np.percentile(bank.gap, 3))
    if span < MIN_GAP_SPAN_IOD:
        return (f"too little mouth variety in the footage (openings span {span:.3f} eye "
                f"distances, needs {MIN_GAP_SPAN_IOD}): the performer never opens the mouth")
    return None


class FootageLipSync:
    """Lip-sync by unit selection over the performer's own mouth frames."""

    name = "footage"
    needs_track = True
    alters_mouth = True

    def __init__(self, *, bank: MouthBank | None = None, footage: Path | None = None,
                 face_engine: FaceEngine | None = None, models_dir: Path | None = None,
                 cache_dir: Path | None = None, performer: str | None = None,
                 tracks: SourceTracks | None = None, identity_guard: bool = False) -> None:
        if bank is None and footage is None:
            raise BadInput("the footage lip-sync engine needs footage of the performer",
                           hint="use --lipsync viseme, or give the source video")
        self._bank = bank
        self.footage = footage
        self._face_engine = face_engine
        self.models_dir = models_dir
        self.cache_dir = cache_dir
        self.performer = performer
        self.tracks = tracks
        self.identity_guard = identity_guard  # see `identity_guard`: slower, closes less
        self.viseme = VisemeLipSync()
        self.last_stats: RenderStats = FootageStats()
        self._correction: GapCorrection | None = None
        self._feed: tuple[BankFeed, str] | None = None  # and the footage's SHA-256

    @property
    def bank(self) -> MouthBank:
        """The bank, built (or read from the cache) on first use."""
        if self._bank is None:
            from models.lipsync.footage.store import bank_from_feed, bank_from_video

            assert self.footage is not None
            if self._feed is not None and self._feed[0].frames > 0 \
                    and not self._feed[0].spoiled:
                feed, digest = self._feed
                self._bank = bank_from_feed(feed, cache_dir=self.cache_dir,
                                            performer=self.performer, digest=digest)
            else:
                self._bank = bank_from_video(self.footage, face_engine=self._faces(),
                                             cache_dir=self.cache_dir,
                                             performer=self.performer, tracks=self.tracks)
            self._feed = None
        return self._bank

    def frame_sink(self, video: Path) -> FrameSink | None:
        """Where the identity scan of `video` hands its frames, when `video` is this
        engine's footage and its bank is neither built nor cached (`SourceFed`)."""
        from media.digest import sha256_file
        from media.probe import probe as probe_media
        from models.lipsync.footage.store import BankFeed, cached_bank

        if (self._bank is not None or self.footage is None
                or Path(video).resolve() != Path(self.footage).resolve()
                or cached_bank(video, cache_dir=self.cache_dir, performer=self.performer)):
            return None
        info = probe_media(Path(video), what="footage").require_video()
        digest = sha256_file(Path(video)) if self.tracks is not None or (
            self.cache_dir is not None and self.performer) else ""
        feed = BankFeed(face_engine=self._faces(), fps=info.avg_fps,
                        frame_width=info.display_size[0], tracks=self.tracks, digest=digest)
        self._feed = (feed, digest)
        return feed.add

    def _refiner(self) -> LandmarkRefiner | None:
        """The face engine's landmark fit, when there is one to calibrate the paste with."""
        if self._face_engine is None and self.footage is None:
            return None
        engine = self._faces()
        return engine if isinstance(engine, LandmarkRefiner) else None

    def _faces(self) -> FaceEngine:
        if self._face_engine is None:
            from models import registry

            self._face_engine = registry.get(
                "face", models_dir=self.models_dir or Path("/nonexistent"),
                policy=registry.EnginePolicy())
        return self._face_engine

    def render(
        self,
        frames: Iterable[np.ndarray],
        face_track: Iterable[TrackedFace | None],
        audio: np.ndarray,
        sample_rate: int,
        *,
        fps: float,
        timings: Sequence[PhonemeTiming] | None = None,
    ) -> Iterator[np.ndarray]:
        """Lip-synced frames, one per input frame; see `LipSync.render`."""
        check_fps(fps)
        track = mouth_track(audio, sample_rate, timings=timings)
        return self.render_track(frames, face_track, track, fps=fps, from_speech=True)

    def render_track(self, frames: Iterable[np.ndarray],
                     face_track: Iterable[TrackedFace | None], track: MouthTrack, *,
                     fps: float, from_speech: bool = False) -> Iterator[np.ndarray]:
        """Like `render`, from a ready mouth-shape track (avatars, self-reconstruction).

        `from_speech`: the track was estimated from speech (phonemes or audio), so its
        open shapes open at least as far as this performer's mouth shows a textured
        interior (`select.textured_gap`); a measured track (False) is followed exactly."""
        fps = check_fps(fps)
        bank = self.bank
        shortfall = bank_shortfall(bank)
        if shortfall is not None:
            LOG.warning("footage lip-sync: %s; using the viseme engine", shortfall)
            return self._viseme(frames, face_track, track, fps=fps, bank=bank, note=shortfall)
        return self._footage(frames, face_track, track, fps=fps, bank=bank,
                             open_floor=textured_gap(bank) if from_speech else None)

    def _viseme(self, frames: Iterable[np.ndarray], face_track: Iterable[TrackedFace | None],
                track: MouthTrack, *, fps: float, bank: MouthBank,
                note: str) -> Iterator[np.ndarray]:
        try:
            yield from self.viseme.render_track(frames, face_track, track, fps=fps)
        finally:
            done = self.viseme.last_stats
            self.last_stats = FootageStats(
                frames=done.frames, changed=done.changed, passed_through=done.passed_through,
                bank_entries=bank.size, fallback_frames=done.changed, note=note)

    def _footage(self, frames: Iterable[np.ndarray], face_track: Iterable[TrackedFace | None],
                 track: MouthTrack, *, fps: float, bank: MouthBank,
                 open_floor: float | None) -> Iterator[np.ndarray]:
        tally = FrameTally()
        synth = FootageSynth(bank, viseme=self.viseme.settings)
        extent = Range.of(bank)
        state_distances = shape_distances(bank)
        counts = {"bank": 0, "fallback": 0}
        state: dict[str, int | None] = {"last": None}
        self._correction = None
        window: list[tuple[int, np.ndarray, TrackedFace | None]] = []
        try:
            for item in paired(frames, face_track):
                check_rgb_image(item[1])
                window.append(item)
                if len(window) >= WINDOW_FRAMES:
                    yield from self._window(window, track, fps=fps, bank=bank, extent=extent,
                                            synth=synth, tally=tally, counts=counts,
                                            state=state, distances=state_distances,
                                            open_floor=open_floor)
                    window = []
            if window:
                yield from self._window(window, track, fps=fps, bank=bank, extent=extent,
                                        synth=synth, tally=tally, counts=counts, state=state,
                                        distances=state_distances, open_floor=open_floor)
        finally:
            done = tally.stats
            self.last_stats = FootageStats(
                frames=done.frames, changed=done.changed, passed_through=done.passed_through,
                bank_entries=bank.size, bank_frames=counts["bank"],
                fallback_frames=counts["fallback"], gap_correction=self._correction,
                identity_checks=counts.get("identity_checks", 0),
                identity_bounded_frames=counts.get("identity_bounded", 0),
                readback_repastes=counts.get("readback_repastes", 0),
                own_mouth_frames=counts.get("own", 0))

    def _calibrated(self, bank: MouthBank, probes: list[tuple[np.ndarray, TrackedFace, int]]
                    ) -> GapCorrection:
        """The paste's read-back correction, fitted on the first window's choices."""
        refiner = self._refiner()
        self._correction = GapCorrection() if refiner is None else fit(probe_pastes(
            bank, probes, refiner=refiner, count=PROBES,
            synth=FootageSynth(bank, viseme=self.viseme.settings)))
        LOG.debug("footage: paste gap correction %s", self._correction)
        return self._correction

    def _identity_limits(self, window: list[tuple[int, np.ndarray, TrackedFace | None]],
                         faced: list[int], bank: MouthBank, wanted: Targets,
                         host_gap: np.ndarray, hidden: np.ndarray, pose: np.ndarray,
                         correction: GapCorrection, counts: dict[str, int]) -> np.ndarray:
        """Per faced frame, the most its mouth may be closed (`identity_guard`)."""
        faces = self._refiner() if self.identity_guard else None
        if faces is None or not len(faced):
            return np.full(len(faced), np.inf)
        spare = FootageSynth(bank, viseme=self.viseme.settings)
        frames = [window[k][1] for k in faced]
        tracked = [window[k][2] for k in faced]

        def paste(j: int, gap: float) -> np.ndarray | None:
            row = Targets(correction.selection_gap(np.array([gap]), host_gap[j:j + 1])
                          .astype(np.float32), wanted.width[j:j + 1], wanted.teeth[j:j + 1],
                          None if wanted.open is None else wanted.open[j:j + 1])
            entry = int(np.argmin(target_costs(bank, row, yaw=pose[j:j + 1, 0],
                                               pitch=pose[j:j + 1, 1],
                                               brightness=pose[j:j + 1, 2])[0]))
            spare.reset()
            asked = correction.asked_gap(gap, float(host_gap[j]), float(bank.gap[entry]))
            face = tracked[j]
            assert face is not None
            return spare.bank_frame(frames[j], face.face.landmarks, entry, target_gap=asked,
                                    jumped=False)

        asked = np.where(hidden, host_gap, wanted.gap)
        limits, embedded = closing_limits(faces, frames, tracked, host_gap,  # type: ignore[arg-type]
                                          asked, paste)
        counts["identity_checks"] = counts.get("identity_checks", 0) + embedded
        counts["identity_bounded"] = counts.get("identity_bounded", 0) + int(
            np.isfinite(limits).sum())
        return limits

    def _bank_paste(self, synth: FootageSynth, frame: np.ndarray, tracked: TrackedFace,
                    entry: int, *, asked: float, target: float, jumped: bool,
                    correction: GapCorrection, counts: dict[str, int]) -> np.ndarray | None:
        """Paste `entry`, read its lips back and, when they land more than
        `READBACK_TOLERANCE_IOD` from `target`, paste once more with the residual moved
        by the error seen.

        The first window's `GapCorrection` is one linear model for the whole render;
        the read-back error drifts with the head's pose and the host's jaw (on the
        Pexels self-reconstruction the pastes of its last 70 frames read 0.02-0.04
        eye distances wider than asked). A landmark fit costs about a millisecond, a
        second paste about as much as the first, and only the frames off target pay it."""
        refiner = self._refiner()
        before = synth.state()
        out = synth.bank_frame(frame, tracked.face.landmarks, entry, target_gap=asked,
                               jumped=jumped)
        if out is None or refiner is None or correction.samples == 0:
            return out
        error = _pasted_gap_error(refiner, out, tracked, target)
        if error is None or abs(error) <= READBACK_TOLERANCE_IOD:
            return out
        # The residual moves the read-back lips by (1 + residual_gain) of what it asks.
        again = at_least_closed(asked - error / max(1.0 + correction.residual_gain, 0.5),
                                float(self.bank.gap[entry]))
        after = synth.state()
        synth.restore(before)
        counts["readback_repastes"] = counts.get("readback_repastes", 0) + 1
        retried = synth.bank_frame(frame, tracked.face.landmarks, entry, target_gap=again,
                                   jumped=jumped)
        if retried is None:  # cannot happen once the first paste worked; keep that one
            synth.restore(after)
            return out
        return retried

    def _window(self, window: list[tuple[int, np.ndarray, TrackedFace | None]],
                track: MouthTrack, *, fps: float, bank: MouthBank, extent: Range,
                synth: FootageSynth, tally: FrameTally, counts: dict[str, int],
                state: dict[str, int | None], distances: np.ndarray,
                open_floor: float | None) -> Iterator[np.ndarray]:
        faced = [k for k, (_, _, tracked) in enumerate(window) if tracked is not None]
        indices = np.array([window[k][0] for k in faced], np.float64)
        shapes = track.at(indices / fps) if len(faced) else np.zeros((0, 3), np.float32)
        pose = np.array([_pose(window[k][1], window[k][2]) for k in faced],  # type: ignore[arg-type]
                        np.float32).reshape(-1, 7)
        # The bank holds clean mouths only, so a hidden one is well under half their
        # contrast, and a partly hidden one has its halves off the bank's usual balance.
        floor = occlusion_floor(bank.contrast)
        hidden = pose[:, 3] < HIDDEN_SHARE * floor / MIN_CONTRAST_SHARE
        if floor > -np.inf and bank.size:
            hidden |= unbalanced(np.nan_to_num(pose[:, 6], nan=0.0),
                                 float(np.median(bank.balance)))
        if hidden.any():  # a hand comes and goes: its neighbours are not trusted either
            hidden = np.convolve(hidden, np.ones(2 * OCCLUSION_SPREAD + 1), "same") > 0
        wanted = targets_for(shapes, extent, source_width=pose[:, 4], open_floor=open_floor)
        host_gap = np.nan_to_num(pose[:, 5], nan=extent.closed_gap)
        correction = self._correction or GapCorrection()
        # The first window: select, measure some of those pastes, select again.
        for calibrating in (self._correction is None, False):
            targets = Targets(correction.selection_gap(wanted.gap, host_gap).astype(np.float32),
                              wanted.width, wanted.teeth, wanted.open)
            costs = target_costs(bank, targets, yaw=pose[:, 0], pitch=pose[:, 1],
                                 brightness=pose[:, 2])
            path = viterbi(bank, costs, start=state["last"], distances=distances)
            if calibrating:
                correction = self._calibrated(bank, [
                    (window[k][1], window[k][2], int(path[j]))  # type: ignore[misc]
                    for j, k in enumerate(faced)])
        limits = self._identity_limits(window, faced, bank, wanted, host_gap, hidden, pose,
                                       correction, counts)
        if np.isfinite(limits).any():  # closing less where the paste read as someone else
            wanted = replace(wanted, gap=np.maximum(wanted.gap, host_gap - limits)
                             .astype(np.float32))
            targets = Targets(correction.selection_gap(wanted.gap, host_gap).astype(np.float32),
                              wanted.width, wanted.teeth, wanted.open)
            costs = target_costs(bank, targets, yaw=pose[:, 0], pitch=pose[:, 1],
                                 brightness=pose[:, 2])
            path = viterbi(bank, costs, start=state["last"], distances=distances)
        fallback = needs_fallback(bank, path, targets)
        chosen = dict(zip(faced, range(len(faced)), strict=True))
        for k, (index, frame, tracked) in enumerate(window):
            if tracked is None or k not in chosen or hidden[chosen[k]]:
                synth.reset()
                state["last"] = None
                LOG.debug("footage: frame %d has no visible mouth; passed through", index)
                yield tally.count_passed(frame)
                continue
            j = chosen[k]
            entry = int(path[j])
            last = state["last"]
            if _shows_it_already(float(wanted.gap[j]), float(host_gap[j]), extent):
                synth.reset()
                state["last"] = None
                counts["own"] = counts.get("own", 0) + 1
                yield tally.count_passed(frame)
                continue
            if fallback[j]:
                out = synth.fallback_frame(frame, tracked.face.landmarks,
                                           MouthShape(*map(float, shapes[j])))
                kind = "fallback"
            else:
                jumped = last is not None and last != entry and not bool(
                    bank.follows(np.array(last), np.array(entry)))
                asked = correction.asked_gap(float(wanted.gap[j]), float(host_gap[j]),
                                             float(bank.gap[entry]))
                out = self._bank_paste(synth, frame, tracked, entry, asked=asked,
                                       target=float(wanted.gap[j]), jumped=jumped,
                                       correction=correction, counts=counts)
                kind = "bank"
            state["last"] = entry
            if out is None:
                yield tally.count_passed(frame)
                continue
            counts[kind] += 1
            yield tally.count_changed(out)


def _shows_it_already(wanted_gap: float, host_gap: float, extent: Range) -> bool:
    """Whether the frame's own mouth is already (nearly) closed as the speech wants it.

    Its real pixels then beat any paste: on PsychoPy's two talking clips (the bar of
    0.03 was chosen on them; 0.02 already did most of it), keeping them took
    self-reconstruction LMD from 0.040 to 0.034 and 0.034 to 0.028 eye distances
    (SSIM 0.872 -> 0.892, 0.892 -> 0.911); the Pexels clip,
    whose held-out frames never close, is unchanged. Only closed shapes: an open mouth's
    teeth and tongue belong to the old speech."""
    return (wanted_gap <= extent.closed_gap + KEEP_CLOSED_SHARE * extent.span
            and abs(wanted_gap - host_gap) <= KEEP_OWN_MOUTH_IOD)


def _pasted_gap_error(refiner: LandmarkRefiner, out: np.ndarray, tracked: TrackedFace,
                      target: float) -> float | None:
    """How far `out`'s lips read back from the `target` gap (None: no usable read)."""
    read = gap_of(np.asarray(refiner.landmarks_in_box(out, tracked.face.box)))
    return None if read is None else read - target


def _pose(frame: np.ndarray, tracked: TrackedFace
          ) -> tuple[float, float, float, float, float, float, float]:
    """Yaw, pitch (nose tip in face units), brightness, lip contrast, mouth width,
    the frame's own inner-lip gap and its lips' left/right balance."""
    try:
        axes = face_frame(tracked.face.landmarks)
    except BadInput:
        return (np.nan,) * 7
    local = axes.to_local(untangle_mouth(tracked.face.landmarks, frame=axes))
    crop = canonical_crop(frame, axes)
    luma = crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    canon = local_to_canonical(local[MOUTH])
    contrast, balance = lip_measures(crop, canon)
    width = float(np.linalg.norm(local[MOUTH_CORNER_RIGHT_INDEX]
                                 - local[MOUTH_CORNER_LEFT_INDEX]))
    return (float(local[NOSE_TIP_INDEX, 0]), float(local[NOSE_TIP_INDEX, 1]),
            float(luma.mean()), contrast, width, max(mouth_gap_iod(local), 0.0),
            balance)


def create(*, models_dir: Path, footage: Path | str | None = None,
           performer: str | None = None, cache_dir: Path | None = None,
           bank: MouthBank | None = None, face_engine: FaceEngine | None = None,
           tracks: SourceTracks | None = None, identity_guard: bool = False,
           **_options: Any) -> FootageLipSync:
    """Registry factory: the footage engine over `footage` (or a ready `bank`)."""
    return FootageLipSync(bank=bank, footage=None if footage is None else Path(footage),
                          face_engine=face_engine, models_dir=models_dir,
                          cache_dir=cache_dir, performer=performer, tracks=tracks,
                          identity_guard=identity_guard)


def probe(*, models_dir: Path, policy: object, footage: Path | str | None = None,
          bank: MouthBank | None = None, **_options: Any) -> Any:
    """May ``auto`` pick footage here: footage given, readable, at least `MIN_FOOTAGE_S` long."""
    from media.probe import probe as probe_media
    from models.registry import Availability

    if bank is not None:
        shortfall = bank_shortfall(bank)
        return Availability(shortfall is None, shortfall or f"a bank of {bank.size} mouths")
    if footage is None:
        return Availability(False, "no footage of the performer given")
    path = Path(footage)
    try:
        info = probe_media(path, what="footage")
        seconds = info.require_video().duration_s or info.duration_s or 0.0
    except BadInput as exc:
        return Availability(False, f"footage unreadable: {exc}")
    if seconds < MIN_FOOTAGE_S:
        return Availability(False, f"footage lasts {seconds:.1f} s; needs {MIN_FOOTAGE_S:g} s")
    return Availability(True, f"{seconds:.0f} s of the performer's footage")
