"""C2PA cost at publish and verify time, against a plain file copy of the same clip.

Generates H.264/AAC clips with ffmpeg (lavfi), signs each with a fresh studio
chain and reads it back with the root as trust anchor. Prints a table with
ratios measured in the same run and writes benchmarks/results/c2pa.json.
Run: ``.venv/bin/python -m benchmarks.bench_c2pa [SECONDS ...]``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.report import write_results  # noqa: E402
from provenance.c2pa import (
    WATERMARK_ACTION,
    C2paAction,
    C2paIngredientSpec,
    C2paManifestSpec,
    ConsentAssertion,
    create_chain,
    read_manifest,
    sign_media,
)

DEFAULT_CLIP_SECONDS = (2, 10)
CONSENT = ConsentAssertion(decision_id="decision-bench", grant_ids=("grant-bench",),
                           performer_id="ava", uses=("dubbing",), language="es",
                           production=None, studio="Bench Studio")
RESULTS_PATH = Path(__file__).resolve().parent / "results" / "c2pa.json"


def _best_seconds(call: Callable[[], object], *, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _make_clip(path: Path, *, seconds: int) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
         "-movflags", "+faststart", str(path)], check=True)


def run(clip_seconds: tuple[int, ...] = DEFAULT_CLIP_SECONDS) -> dict[str, object]:
    """Measure signing/reading per clip length (seconds of wall time, ratios unitless)."""
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        chain = create_chain(work / "keys", studio_name="Bench Studio")
        anchor = chain.root_cert.read_bytes()
        for seconds in clip_seconds:
            source = work / f"clip{seconds}.mp4"
            _make_clip(source, seconds=seconds)
            spec = C2paManifestSpec(
                title="bench.mp4", digital_source_type="compositeWithTrainedAlgorithmicMedia",
                actions=(C2paAction(action="c2pa.edited"), C2paAction(action=WATERMARK_ACTION)),
                ingredient=C2paIngredientSpec(path=source, title=source.name),
                custom_assertions={CONSENT.label(): CONSENT.model_dump(mode="json")})
            dest = work / f"signed{seconds}.mp4"

            def sign(source: Path = source, dest: Path = dest,
                     spec: C2paManifestSpec = spec) -> None:
                dest.unlink(missing_ok=True)
                sign_media(source=source, dest=dest, chain=chain, manifest=spec)

            copy_s = _best_seconds(lambda s=source: shutil.copyfile(s, work / "copy.mp4"),
                                   repeat=3)
            sign_s = _best_seconds(sign, repeat=3)
            read_s = _best_seconds(lambda d=dest: read_manifest(d, trust_anchor_pem=anchor),
                                   repeat=3)
            report = read_manifest(dest, trust_anchor_pem=anchor)
            assert report.validation_state == "Trusted", report.errors
            size_mb = source.stat().st_size / 1e6
            rows.append({"clip_seconds": seconds, "size_mb": size_mb, "copy_s": copy_s,
                         "sign_s": sign_s, "read_verify_s": read_s,
                         "ratio_sign_vs_copy": sign_s / copy_s,
                         "ratio_read_vs_sign": read_s / sign_s,
                         "manifest_overhead_bytes": dest.stat().st_size - source.stat().st_size})
    return {"clips": rows}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    figures = run(tuple(int(a) for a in args) if args else DEFAULT_CLIP_SECONDS)
    header = (f"{'clip':>6} {'MB':>6} {'copy ms':>8} {'sign ms':>8} {'read ms':>8} "
              f"{'sign/copy':>9} {'read/sign':>9} {'+bytes':>7}")
    print(header)
    for row in figures["clips"]:
        print(f"{row['clip_seconds']:>5}s {row['size_mb']:6.2f} {row['copy_s'] * 1e3:8.1f} "
              f"{row['sign_s'] * 1e3:8.1f} {row['read_verify_s'] * 1e3:8.1f} "
              f"{row['ratio_sign_vs_copy']:8.1f}x {row['ratio_read_vs_sign']:8.2f}x "
              f"{row['manifest_overhead_bytes']:7d}")
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    write_results(RESULTS_PATH, figures)


if __name__ == "__main__":
    main()
