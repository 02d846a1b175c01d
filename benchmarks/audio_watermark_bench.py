"""Audio watermark benchmark: v1 against v2 on the attacks of issue 14, in one run.

Clips: real speech (LibriVox excerpts from Debian's pocketsphinx-testdata), espeak-ng
speech over pink noise and tones, and synthesized music, at 48 and 44.1 kHz; clips 20
and up are a second real voice ("prompts": Allison Smith's Asterisk prompts, Debian's
asterisk-core-sounds-en-g722, CC-BY-SA-3.0), passages 61 s apart. Each
clip gets a random render id; each scheme (an *arm*: ``likeness-stft-ss/1`` and
``likeness-erb-qim/2``) marks the same clip with the same id, and both meet the same
attacks (tests.support.audio_attacks: real ffmpeg codecs, atempo, resampling, noise,
a phone channel, trims and combinations). Scored by exact 64-bit id recovery with the
front-door detector `likeness verify` uses. Also: SNR of the mark, the shortest clip
that still decodes (windows cut anywhere), false positives on unmarked clips and
under a wrong key, embedding cost (seconds per minute of audio) and the detection
time of a 10 s clip. Writes benchmarks/results/audio_watermark.json.

    python -m benchmarks audio_watermark        (or python benchmarks/audio_watermark_bench.py)
    python benchmarks/audio_watermark_bench.py --clips 6 --fp-clips 40 --attacks none opus
    python benchmarks/audio_watermark_bench.py --part grid --clips 30 --seconds 20 \
        --kinds speech prompts        (20 real-speech clips of dub length, two voices)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance.watermark.audio import ALGORITHM as PUBLISHED  # noqa: E402
from provenance.watermark.audio import AudioWatermarker  # noqa: E402
from provenance.watermark.audio_v1 import ALGORITHM as V1  # noqa: E402
from provenance.watermark.audio_v2 import ALGORITHM as V2  # noqa: E402
from provenance.watermark.audio_v2 import AudioWatermarkerV2  # noqa: E402
from provenance.watermark.keys import keyed_rng  # noqa: E402
from tests.support import attacks as A  # noqa: E402
from tests.support import audio_attacks as AA  # noqa: E402

TEXTS = (
    "Every render carries an invisible mark. The performer signed a grant, and the "
    "studio keeps a ledger of what was made, when, and under which consent.",
    "The quick brown fox jumps over the lazy dog while the studio keeps its ledger "
    "and the verifier checks every published file against it.",
    "Nine hundred and ninety nine bottles stood on the long wall of the old cellar, "
    "and nobody knew who had put them there or why.",
)
SHORT_ATTACKS = ("none", "mp3 64k", "aac 48k")
DURATIONS_S = (2.8, 3.0, 4.0)


FIRST_PROMPT_CLIP = 20
FIRST_PROMPT_FP_CLIP = 210


def clip_kind(index: int) -> str:
    """What clip `index` holds: of the first 20 half real speech, then espeak mixes and
    music; from 20 on the second voice (so the first 20 keep their content and ids)."""
    if index >= FIRST_PROMPT_CLIP:
        return "prompts"
    return ("speech", "speech", "espeak", "music")[index % 4]


def clip_audio(index: int, seconds: float) -> tuple[str, np.ndarray, int]:
    """Content kind, samples, rate for clip `index` (`clip_kind`)."""
    rate = (48_000, 44_100)[index % 2]
    kind = clip_kind(index)
    if kind == "speech":
        return kind, AA.real_speech(seconds=seconds, start_s=index * 5.3, sample_rate=rate), rate
    if kind == "prompts":
        return kind, AA.real_speech(seconds=seconds, start_s=(index - FIRST_PROMPT_CLIP) * 61.0,
                                    sample_rate=rate, source="prompts"), rate
    if kind == "espeak":
        return kind, A.speech_mix(TEXTS[index % len(TEXTS)], seconds=seconds,
                                  sample_rate=rate, seed=index), rate
    return kind, AA.synth_music(seconds=seconds, sample_rate=rate, seed=index), rate


def unmarked_clip(index: int) -> tuple[str, np.ndarray, int]:
    """The false-positive set: real speech at many offsets, espeak, music, noises; from
    index 210 on the second voice."""
    rate = (48_000, 44_100, 16_000)[index % 3]
    seconds = (3.0, 5.0, 8.0)[index % 3]
    if index >= FIRST_PROMPT_FP_CLIP:
        start_s = (index - FIRST_PROMPT_FP_CLIP) * 13.1
        return "prompts", AA.real_speech(seconds=seconds, start_s=start_s, sample_rate=rate,
                                         source="prompts"), rate
    kind = ("speech", "speech", "espeak", "music", "white", "pink", "brown")[index % 7]
    if kind == "speech":
        return kind, AA.real_speech(seconds=seconds, start_s=index * 1.7, sample_rate=rate), rate
    if kind == "espeak":
        return kind, A.speech_mix(TEXTS[index % len(TEXTS)], seconds=seconds,
                                  sample_rate=rate, seed=100 + index), rate
    if kind == "music":
        return kind, AA.synth_music(seconds=seconds, sample_rate=rate, seed=100 + index), rate
    return kind, AA.noise(kind, seconds=seconds, sample_rate=rate, seed=index), rate


KEY = bytes(range(32))


def run_grid(args: argparse.Namespace) -> dict[str, object]:
    """Clips args.first .. args.first + args.clips - 1 through every arm and attack."""
    key = KEY
    other_key = bytes(range(32, 64))
    rng = keyed_rng(key, stream="audio-benchmark")
    for _ in range(args.first):  # the same ids whichever part runs a clip
        rng.integers(0, 2**63)
        for _ in range(2 * (1 + len(DURATIONS_S))):
            rng.uniform(0.0, 1.0)
    arms = {name: AudioWatermarker(key, algorithm=name) for name in (V1, V2)}
    detector = AudioWatermarker(key)
    foreign = AudioWatermarker(other_key)
    grid = {name: fn for name, fn in AA.attack_grid().items()
            if not args.attacks or any(word in name for word in args.attacks)}
    hits: dict[str, dict[str, list[bool]]] = {arm: {} for arm in arms}
    short: dict[str, dict[str, list[bool]]] = {arm: {} for arm in arms}
    durations: dict[str, dict[str, list[bool]]] = {arm: {} for arm in arms}
    snr: dict[str, list[float]] = {arm: [] for arm in arms}
    embed_s = {arm: 0.0 for arm in arms}
    wrong_key_hits = {arm: 0 for arm in arms}
    audio_s = 0.0
    done_clips: list[int] = []
    for index in range(args.first, args.first + args.clips):
        if args.kinds and clip_kind(index) not in args.kinds:
            rng.integers(0, 2**63)  # the same ids for the clips that do run
            for _ in range(2 * (1 + len(DURATIONS_S))):
                rng.uniform(0.0, 1.0)
            continue
        kind, audio, rate = clip_audio(index, args.seconds)
        render_id = int(rng.integers(0, 2**63))
        done_clips.append(index)
        audio_s += audio.shape[0] / rate
        for arm, marker in arms.items():
            began = time.perf_counter()
            marked = marker.embed(audio, rate, render_id)
            embed_s[arm] += time.perf_counter() - began
            snr[arm].append(A.snr_db(audio, marked))
            for attack, apply in grid.items():
                signal, out_rate = apply(marked, rate)
                found = detector.detect(signal, out_rate).render_id == render_id
                hits[arm].setdefault(attack, []).append(found)
            wrong_key_hits[arm] += foreign.detect(marked, rate).render_id is not None
            # Short clips: a window cut anywhere in the marked clip.
            start = float(rng.uniform(0.0, args.seconds - 3.05))
            window = AA.trim(marked, rate, start_s=start, seconds=3.0)
            for attack in SHORT_ATTACKS:
                signal, out_rate = AA.attack_grid()[attack](window, rate)
                short[arm].setdefault(attack, []).append(
                    detector.detect(signal, out_rate).render_id == render_id)
            for seconds in DURATIONS_S:
                if seconds > args.seconds - 0.05:
                    continue
                start = float(rng.uniform(0.0, args.seconds - seconds - 0.01))
                window = AA.trim(marked, rate, start_s=start, seconds=seconds)
                durations[arm].setdefault(f"{seconds:.1f} s", []).append(
                    detector.detect(window, rate).render_id == render_id)
            misses = [a for a, h in hits[arm].items() if not h[-1]]
            print(f"clip {index + 1} ({kind}, {rate} Hz) {arm}: SNR "
                  f"{snr[arm][-1]:.1f} dB, misses: {misses}", file=sys.stderr, flush=True)
        if args.part == "grid":  # a part keeps what it has measured, clip by clip
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(grid_result(done_clips, hits, short, durations,
                                                       snr, embed_s, wrong_key_hits,
                                                       audio_s)))
    return grid_result(done_clips, hits, short, durations, snr, embed_s, wrong_key_hits,
                       audio_s)


def grid_result(clips: list[int], hits: dict[str, dict[str, list[bool]]],
                short: dict[str, dict[str, list[bool]]],
                durations: dict[str, dict[str, list[bool]]], snr: dict[str, list[float]],
                embed_s: dict[str, float], wrong_key_hits: dict[str, int], audio_s: float
                ) -> dict[str, object]:
    """What a grid part measured, as lists a merge can concatenate."""
    def lists(table: dict[str, list[bool]]) -> dict[str, list[bool]]:
        return {k: [bool(x) for x in v] for k, v in table.items()}

    return {"arms": {arm: {"attacks": lists(hits[arm]), "short_3s": lists(short[arm]),
                           "durations_clean": lists(durations[arm]), "snr_db": snr[arm],
                           "embed_s": embed_s[arm], "wrong_key_hits": wrong_key_hits[arm]}
                     for arm in hits},
            "audio_s": audio_s, "clips": clips}


def run_checks(args: argparse.Namespace) -> dict[str, object]:
    """False positives on unmarked clips and the detection time of a 10 s clip."""
    key = KEY
    arms = {name: AudioWatermarker(key, algorithm=name) for name in (V1, V2)}
    detector = AudioWatermarker(key)
    false_pos, checks_by_kind = 0, {}
    for index in range(args.fp_clips):
        kind, audio, rate = unmarked_clip(index)
        checks_by_kind[kind] = checks_by_kind.get(kind, 0) + 1
        hit = detector.detect(audio, rate).render_id is not None
        false_pos += hit
        if hit or index % 20 == 19:
            print(f"unmarked {index + 1}/{args.fp_clips}: {false_pos} hits", file=sys.stderr,
                  flush=True)
    # Cost: detection of 10 s, marked (v2 decodes first) and unmarked (both run).
    ten = AA.real_speech(seconds=10.0, start_s=2.0, sample_rate=48_000)
    timing = {}
    for label, signal in (("marked v2", arms[V2].embed(ten, 48_000, 12345)),
                          ("marked v1", arms[V1].embed(ten, 48_000, 12345)),
                          ("unmarked", ten)):
        began = time.perf_counter()
        detector.detect(signal, 48_000)
        timing[label] = time.perf_counter() - began
    began = time.perf_counter()
    AudioWatermarkerV2(key).detect(ten, 48_000)
    timing["unmarked, v2 detector alone"] = time.perf_counter() - began

    return {"false_positives": {"unmarked_checks": args.fp_clips, "unmarked_hits": false_pos,
                                "by_kind": checks_by_kind},
            "detect_10s_s": timing, "load_average": os.getloadavg()}


def merge(parts: list[dict[str, object]]) -> dict[str, object]:
    """One result from grid parts (any clip ranges) and one checks part."""
    grids = [p for p in parts if "arms" in p]
    checks = [p for p in parts if "false_positives" in p]
    if not grids or len(checks) != 1:
        raise SystemExit("error: merge needs grid parts and exactly one checks part")
    arms: dict[str, dict[str, object]] = {}
    audio_s = sum(float(g["audio_s"]) for g in grids)
    for arm in grids[0]["arms"]:
        merged: dict[str, object] = {}
        for section in ("attacks", "short_3s", "durations_clean"):
            table: dict[str, list[bool]] = {}
            for g in grids:
                for k, v in g["arms"][arm][section].items():
                    table.setdefault(k, []).extend(v)
            merged[section] = {k: {"rate": float(np.mean(v)), "count": len(v)}
                               for k, v in table.items()}
        by_kind: dict[str, dict[str, list[bool]]] = {}
        for g in grids:  # each attack's list has one entry per clip, in clip order
            for k, v in g["arms"][arm]["attacks"].items():
                for clip, hit in zip(g["clips"], v, strict=True):
                    by_kind.setdefault(clip_kind(clip), {}).setdefault(k, []).append(hit)
        merged["attacks_by_kind"] = {
            kind: {k: {"rate": float(np.mean(v)), "count": len(v)} for k, v in table.items()}
            for kind, table in by_kind.items()}
        snr = [x for g in grids for x in g["arms"][arm]["snr_db"]]
        merged.update({
            "snr_db_mean": float(np.mean(snr)), "snr_db_min": float(np.min(snr)),
            "embed_s_per_minute": 60.0 * sum(g["arms"][arm]["embed_s"] for g in grids) / audio_s,
            "wrong_key_hits": sum(g["arms"][arm]["wrong_key_hits"] for g in grids),
            "wrong_key_checks": len(snr)})
        arms[arm] = merged
    return {"published_algorithm": PUBLISHED, "arms": arms,
            "clips": sorted(c for g in grids for c in g["clips"]), **checks[0]}


def print_result(result: dict[str, object]) -> None:
    arms = result["arms"]
    names = list(arms)
    print(f"\naudio: exact 64-bit id rate per embedded scheme (publish embeds "
          f"{result['published_algorithm']})")
    print(f"  {'attack':28s} " + " ".join(f"{n:>20s}" for n in names))
    for section, title in (("attacks", ""), ("short_3s", "3 s window, "),
                           ("durations_clean", "clean window of ")):
        for attack in arms[names[0]][section]:
            label = f"{title}{attack}"
            print(f"  {label:28s} " + " ".join(
                f"{arms[n][section][attack]['rate']:20.2f}" for n in names))
    kinds = list(arms[names[0]]["attacks_by_kind"])
    print("\nby content, hits / clips: " + ", ".join(f"{n} {k}" for k in kinds for n in names))
    for attack in arms[names[0]]["attacks"]:
        cells = []
        for kind in kinds:
            for n in names:
                row = arms[n]["attacks_by_kind"][kind][attack]
                cells.append(f"{round(row['rate'] * row['count'])}/{row['count']}")
        print(f"  {attack:28s} " + " ".join(f"{c:>6s}" for c in cells))
    for n in names:
        a = arms[n]
        print(f"{n}: SNR mean {a['snr_db_mean']:.2f} dB (min {a['snr_db_min']:.2f}); embed "
              f"{a['embed_s_per_minute']:.2f} s per minute of audio; wrong-key hits "
              f"{a['wrong_key_hits']}/{a['wrong_key_checks']}")
    fp = result["false_positives"]
    print(f"false positives: {fp['unmarked_hits']} in {fp['unmarked_checks']} unmarked clips "
          f"{fp['by_kind']}")
    print("detect 10 s (front door): " + ", ".join(
        f"{k} {v:.2f} s" for k, v in result["detect_10s_s"].items())
        + f"; load average {result['load_average'][0]:.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--first", type=int, default=0, help="first clip index (parts)")
    parser.add_argument("--part", choices=("all", "grid", "checks"), default="all",
                        help="run only the attack grid or only the checks, for a later merge")
    parser.add_argument("--merge", type=Path, nargs="+", default=[],
                        help="print and write one result from part files")
    parser.add_argument("--seconds", type=float, default=6.0, help="clip length")
    parser.add_argument("--fp-clips", type=int, default=210)
    parser.add_argument("--kinds", nargs="*", default=[],
                        choices=("speech", "espeak", "music", "prompts"),
                        help="only clips of these kinds (the others keep their ids)")
    parser.add_argument("--attacks", nargs="*", default=[],
                        help="only attacks whose name contains one of these words")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks/results/audio_watermark.json")
    args = parser.parse_args()
    started = time.perf_counter()
    header = {"benchmark": "audio_watermark",
              "command": shlex.join(["python", "benchmarks/audio_watermark_bench.py",
                                     *sys.argv[1:]]),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "config": {"clips": args.clips, "seconds": args.seconds,
                         "fp_clips": args.fp_clips}}
    if args.merge:
        result = {**header, **merge([json.loads(p.read_text()) for p in args.merge])}
    elif args.part == "grid":
        result = {**header, **run_grid(args)}
    elif args.part == "checks":
        result = {**header, **run_checks(args)}
    else:
        result = {**header, **merge([run_grid(args), run_checks(args)])}
    result["wall_s"] = time.perf_counter() - started
    if "published_algorithm" in result:
        print_result(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
