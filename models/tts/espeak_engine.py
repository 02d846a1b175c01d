"""espeak-ng backend: every language espeak-ng knows, robotic but always there.

We run the Debian ``espeak-ng`` binary as a subprocess twice: once for the WAV on
stdout, once for the IPA of the same text (``--ipa --sep=_``, one line per
sentence, words separated by spaces). espeak-ng reports no durations outside its
C callback API, so timings are estimated from the IPA and the audio's voiced
regions (see `models.tts.timing`).
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np

from likeness.errors import BadInput, InternalError
from models.registry import Availability, EnginePolicy
from models.tts.base import Speech, VoiceInfo, base_language, language_availability
from models.tts.timing import estimate_timings, split_ipa
from models.weights import WeightFile

ESPEAK_BINARY = "espeak-ng"
ESPEAK_TIMEOUT_S = 120.0
PCM16_FULL_SCALE = 32768.0
DEFAULT_WORDS_PER_MINUTE = 160
IPA_SEPARATOR = "_"
WEIGHTS: tuple[WeightFile, ...] = ()  # formant synthesis: no weight files
PREFERRED_VOICE = {"en": "en-us", "pt": "pt-br", "es": "es", "fr": "fr-fr", "de": "de"}


class EspeakEngine:
    """Formant synthesis through the espeak-ng command line (no weight files)."""

    name = "espeak-ng"
    supports_voice_clone = False
    weights = WEIGHTS

    def __init__(self, *, words_per_minute: int = DEFAULT_WORDS_PER_MINUTE,
                 binary: str = ESPEAK_BINARY) -> None:
        self._words_per_minute = words_per_minute
        self._binary = binary

    def availability(self) -> Availability:
        if shutil.which(self._binary) is None:
            return Availability(False,
                                f"`{self._binary}` is not on PATH (apt-get install espeak-ng)")
        return Availability(True)

    def languages(self) -> frozenset[str]:
        codes = {voice.language for voice in self.voices()}
        return frozenset(codes | {base_language(code) for code in codes})

    def voices(self, *, language: str | None = None) -> list[VoiceInfo]:
        if not self.availability().available:
            return []
        voices = _list_voices(self._binary)
        if language is None:
            return list(voices)
        wanted = espeak_voice_for(language)
        exact = [voice for voice in voices if voice.language == wanted]
        if exact:
            return exact
        return [voice for voice in voices if base_language(voice.language) == base_language(wanted)]

    def synthesize(self, text: str, *, language: str, voice: str | None = None) -> Speech:
        if not text.strip():
            raise BadInput("espeak-ng: nothing to say (empty text)")
        chosen = voice or self._voice_for(language)
        audio_bytes = self._run(["-v", chosen, "-s", str(self._words_per_minute), "--stdout", text])
        samples, sample_rate = parse_wav_pcm16(audio_bytes)
        sentences = phonemize_ipa(text, voice=chosen, binary=self._binary)
        words, phonemes = estimate_timings(
            text=text, sentences=sentences, samples=samples, sample_rate=sample_rate
        )
        if not words and not phonemes:
            raise InternalError(f"espeak-ng produced no phonemes for {text!r}")
        return Speech(samples=samples, sample_rate=sample_rate, words=words, phonemes=phonemes,
                      engine=self.name, voice=chosen, language=language,
                      timing_source="estimated")

    def _voice_for(self, language: str) -> str:
        matches = self.voices(language=language)
        if not matches:
            known = ", ".join(sorted({v.language for v in _list_voices(self._binary)}))
            raise BadInput(f"espeak-ng has no voice for language {language!r}",
                           hint=f"known languages: {known}")
        return matches[0].voice

    def _run(self, args: list[str]) -> bytes:
        try:
            result = subprocess.run([self._binary, *args], capture_output=True, check=False,
                                    timeout=ESPEAK_TIMEOUT_S)
        except FileNotFoundError as error:
            raise BadInput(f"`{self._binary}` is not installed",
                           hint="apt-get install espeak-ng") from error
        if result.returncode != 0:
            raise InternalError(f"espeak-ng failed ({result.returncode}): "
                                f"{result.stderr.decode(errors='replace').strip()}")
        return result.stdout


def phonemize_ipa(text: str, *, voice: str, binary: str = ESPEAK_BINARY) -> list[list[list[str]]]:
    """Text -> sentences -> words -> IPA phoneme units, from ``espeak-ng --ipa``.

    Shared by the backends that speak from espeak-ng phonemes (kokoro) or need
    estimated timings (coqui).
    """
    result = subprocess.run(
        [binary, "-q", "--ipa", f"--sep={IPA_SEPARATOR}", "-v", voice, text],
        capture_output=True, check=False, timeout=ESPEAK_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise InternalError(f"espeak-ng phonemizer failed for voice {voice!r}: "
                            f"{result.stderr.decode(errors='replace').strip()}")
    ipa = result.stdout.decode("utf-8", errors="replace")
    return [
        [split_ipa(word.replace(IPA_SEPARATOR, "")) for word in line.split()]
        for line in ipa.splitlines()
    ]


def espeak_voice_for(language: str) -> str:
    """The espeak-ng voice we use to phonemize `language` (``en`` -> ``en-us``)."""
    wanted = language.replace("_", "-").lower()
    return PREFERRED_VOICE.get(wanted, wanted)


@functools.lru_cache(maxsize=4)
def _list_voices(binary: str) -> tuple[VoiceInfo, ...]:
    """Parse ``espeak-ng --voices``: columns Pty, Language, Age/Gender, VoiceName, File."""
    result = subprocess.run([binary, "--voices"], capture_output=True, text=True, check=False,
                            timeout=ESPEAK_TIMEOUT_S)
    voices: list[VoiceInfo] = []
    for line in result.stdout.splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 5:
            language = columns[1].lower()
            voices.append(VoiceInfo(engine=EspeakEngine.name, voice=columns[1],
                                    language=language, description=columns[3]))
    return tuple(voices)


def parse_wav_pcm16(data: bytes) -> tuple[np.ndarray, int]:
    """Mono 16-bit PCM WAV bytes -> (float32 samples, sample rate).

    espeak-ng streams to stdout, so its RIFF and data sizes are placeholders
    (0x7fffffff); we read the fmt chunk and take every byte after the data header.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InternalError("espeak-ng did not return a WAV stream")
    offset = 12
    sample_rate = 0
    channels = 1
    while offset + 8 <= len(data):
        chunk_id = data[offset:offset + 4]
        (chunk_size,) = struct.unpack("<I", data[offset + 4:offset + 8])
        body = offset + 8
        if chunk_id == b"fmt ":
            audio_format, channels, sample_rate = struct.unpack("<HHI", data[body:body + 8])
            (bits,) = struct.unpack("<H", data[body + 14:body + 16])
            if audio_format != 1 or bits != 16:
                raise InternalError(f"unexpected WAV format {audio_format}/{bits} bits")
        elif chunk_id == b"data":
            payload = data[body:]
            payload = payload[: len(payload) - len(payload) % (2 * channels)]
            pcm = np.frombuffer(payload, dtype="<i2").reshape(-1, channels)
            samples = (pcm.mean(axis=1) / PCM16_FULL_SCALE).astype(np.float32)
            if sample_rate <= 0:
                raise InternalError("WAV stream has no fmt chunk before its data")
            return samples, sample_rate
        offset = body + chunk_size + (chunk_size & 1)
    raise InternalError("WAV stream has no data chunk")


# -- registry entry points (models.registry) ------------------------------------------------


def create(*, models_dir: Path, **_options: object) -> EspeakEngine:
    """Registry factory (espeak-ng needs no models dir)."""
    return EspeakEngine()


def probe(*, models_dir: Path, policy: EnginePolicy, language: str | None = None,
          **_options: object) -> Availability:
    """Whether `auto` may pick espeak-ng here: it runs and speaks `language`."""
    return language_availability(EspeakEngine(), language)
