"""Speech benchmark: real-time factors of every available TTS backend and of ASR.

RTF = compute seconds / audio seconds (lower is better; < 1 is faster than real
time). Each figure is the median over `--repeats` runs after one warm-up run that
loads the model, all measured in this one process. Prints a table and writes
benchmarks/results/speech.json.

    .venv/bin/python benchmarks/speech_bench.py [--repeats 3] [--asr-models base tiny.en]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.engines import engine as registry_engine  # noqa: E402
from likeness.errors import LikenessError  # noqa: E402
from likeness.settings import load_settings  # noqa: E402
from models import registry  # noqa: E402

TEXT = {
    "en": ("Every render in this studio is allowed only by a signed grant from the performer. "
           "The output carries a visible label, an invisible watermark and a signed manifest."),
    "es": ("Cada render de este estudio requiere una licencia firmada por el intérprete. "
           "El resultado lleva una etiqueta visible y una marca de agua invisible."),
}
RESULTS = ROOT / "benchmarks" / "results" / "speech.json"


def _median_time(function: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_tts(repeats: int, models_dir: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for spec in registry.specs("tts"):
        name = spec.name
        engine = registry_engine("tts", name, models_dir=models_dir)
        status = engine.availability()
        for language, text in TEXT.items():
            if not status.available:
                rows.append({"engine": name, "language": language, "available": False,
                             "reason": status.reason})
                break
            if language not in {code.split("-")[0] for code in engine.languages()}:
                continue
            start = time.perf_counter()
            speech = engine.synthesize(text, language=language)  # warm-up: loads the model
            first_s = time.perf_counter() - start
            seconds = _median_time(lambda e=engine, t=text, lang=language:
                                   e.synthesize(t, language=lang), repeats)
            rows.append({"engine": name, "language": language, "available": True,
                         "audio_s": round(speech.duration_s, 3),
                         "first_call_s": round(first_s, 3),
                         "compute_s": round(seconds, 3),
                         "rtf": round(seconds / speech.duration_s, 4),
                         "timing_source": speech.timing_source})
    return rows


def bench_asr(repeats: int, model_names: list[str], models_dir: Path,
              cache_dir: Path) -> list[dict[str, object]]:
    speech = registry_engine("tts", "piper", models_dir=models_dir).synthesize(TEXT["en"],
                                                                               language="en")
    rows: list[dict[str, object]] = []
    for model in model_names:
        try:
            recognizer = registry_engine("asr", model=model, models_dir=models_dir,
                                         cache_dir=cache_dir)
        except LikenessError as error:
            rows.append({"model": model, "available": False, "reason": error.message})
            continue
        for beam in (1, 5):
            start = time.perf_counter()
            recognizer.transcribe(speech.samples, sample_rate=speech.sample_rate, beam_size=beam)
            first_s = time.perf_counter() - start
            seconds = _median_time(lambda r=recognizer, b=beam: r.transcribe(
                speech.samples, sample_rate=speech.sample_rate, beam_size=b), repeats)
            rows.append({"model": model, "available": True, "beam_size": beam,
                         "audio_s": round(speech.duration_s, 3), "first_call_s": round(first_s, 3),
                         "compute_s": round(seconds, 3),
                         "rtf": round(seconds / speech.duration_s, 4)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--asr-models", nargs="+", default=["base", "tiny.en"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        models_dir = Path(os.environ.get("LIKENESS_MODELS_DIR", Path(scratch) / "models"))
        cache_dir = load_settings().cache_dir  # the assembled whisper base is reused across runs
        tts_rows = bench_tts(args.repeats, models_dir)
        asr_rows = bench_asr(args.repeats, args.asr_models, models_dir, cache_dir)
    print(f"{'TTS engine':<12}{'lang':<6}{'audio s':>9}{'RTF':>9}{'x realtime':>12}  timings")
    for row in tts_rows:
        if row["available"]:
            print(f"{row['engine']:<12}{row['language']:<6}{row['audio_s']:>9.2f}"
                  f"{row['rtf']:>9.3f}{1 / row['rtf']:>12.1f}  {row['timing_source']}")
        else:
            print(f"{row['engine']:<12}{'-':<6}  unavailable: {str(row['reason'])[:70]}")
    print(f"\n{'ASR model':<12}{'beam':<6}{'audio s':>9}{'RTF':>9}{'x realtime':>12}")
    for row in asr_rows:
        if row["available"]:
            print(f"{row['model']:<12}{row['beam_size']:<6}{row['audio_s']:>9.2f}"
                  f"{row['rtf']:>9.3f}{1 / row['rtf']:>12.1f}")
        else:
            print(f"{row['model']:<12}unavailable: {row['reason']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "speech", "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "tts": tts_rows, "asr": asr_rows,
    }, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
