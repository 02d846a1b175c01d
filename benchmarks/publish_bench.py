"""The publish path against a plain transcode: `likeness stamp` of a 720p clip (decode,
label, video+audio watermark, encode, ledger, C2PA, rename) vs `ffmpeg -c:v libx264
-preset veryfast` of the same clip, both measured in this run; plus verify time."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from media.ffmpeg import ffmpeg_path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results")
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> dict[str, object]:
    from tests.support.cli import run_cli
    from tests.support.media import face_clip
    from tests.support.people import add_performer, registered_grant

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    import os

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        os.environ["LIKENESS_HOME"] = str(tmp / "studio")
        os.environ.pop("LIKENESS_DATABASE_URL", None)
        assert run_cli("init").code == 0
        key = add_performer(tmp)
        registered_grant(tmp, key, "ava", "--language", "es")
        clip = face_clip(tmp / "clip.mp4", seconds=args.seconds, size=(1280, 720))
        t0 = time.perf_counter()
        subprocess.run([str(ffmpeg_path()), "-loglevel", "error", "-y", "-i", str(clip),
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-c:a", "aac",
                        str(tmp / "plain.mp4")], check=True)
        plain_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = run_cli("stamp", clip, "--performer", "ava", "--use", "dubbing", "--language", "es",
                    "--out", tmp / "stamped.mp4", "--json")
        stamp_s = time.perf_counter() - t0
        assert r.code == 0, r.err
        t0 = time.perf_counter()
        v = run_cli("verify", tmp / "stamped.mp4", "--json")
        verify_s = time.perf_counter() - t0
        assert v.code == 0, v.out
    result = {"clip_seconds": args.seconds, "size": "1280x720", "fps": 25,
              "plain_ffmpeg_transcode_s": round(plain_s, 2), "stamp_s": round(stamp_s, 2),
              "verify_s": round(verify_s, 2),
              "stamp_over_plain_transcode": round(stamp_s / plain_s, 2),
              "stamp_over_clip_duration": round(stamp_s / args.seconds, 2),
              "verify_over_clip_duration": round(verify_s / args.seconds, 2)}
    print(f"publish path, {args.seconds:.0f} s 720p25 clip with speech")
    print(f"  plain ffmpeg libx264 veryfast transcode  {plain_s:6.2f} s")
    print(f"  likeness stamp (full publish path)       {stamp_s:6.2f} s   "
          f"= {result['stamp_over_plain_transcode']}x the transcode, "
          f"{result['stamp_over_clip_duration']}x the clip's duration")
    print(f"  likeness verify                          {verify_s:6.2f} s   "
          f"= {result['verify_over_clip_duration']}x the clip's duration")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "publish.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
