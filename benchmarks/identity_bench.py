"""Identity threshold calibration: false accepts and false rejects of the dlib check.

Three sets, each measured at several thresholds (docs/identity-threshold.md holds
the table this prints):

- real photographs (tests/support/real_faces.py: five of one person, five other
  people, from the face_recognition and insightface source packages): every pair of
  photographs of the same person is a genuine comparison (different sessions, the
  hard case), every pair of different people an impostor one;
- the same photographs as tracks: each photograph animated into a short compressed
  clip (drift, zoom) and judged end to end as the gate does (flows.faces.find_faces
  + consent.identity.match_identity), with the performer enrolled from the *other*
  photographs of them;
- painted portraits (flare-game, fictional): distinct portraits as impostors.

    .venv/bin/python -m benchmarks identity      (or: python benchmarks/identity_bench.py)

Prints the tables and writes benchmarks/results/identity.json.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consent.identity import match_identity  # noqa: E402
from flows.faces import find_faces  # noqa: E402
from models.face import load_image  # noqa: E402
from tests.support.engines import engine as face_engine_of  # noqa: E402
from tests.support.real_faces import real_faces  # noqa: E402

THRESHOLDS = (0.30, 0.35, 0.40, 0.42, 0.44, 0.45, 0.50, 0.55, 0.60)
RESULTS = ROOT / "benchmarks" / "results" / "identity.json"
# all 35 flare-game portraits when FLARE_PORTRAITS (or the Debian package) has them,
# else the six shipped in assets/faces
FLARE_DIRS = (Path(os.environ.get("FLARE_PORTRAITS",
                                  "/usr/share/games/flare/mods/fantasycore/images/portraits")),
              ROOT / "assets" / "faces")
CLIP_SECONDS = 3.0


def _embed_all(engine: object, images: dict[str, Path]) -> dict[str, tuple[str, np.ndarray]]:
    """face label -> (identity, embedding); a group photograph gives one identity per face."""
    found: dict[str, tuple[str, np.ndarray]] = {}
    for label, path in sorted(images.items()):
        image = load_image(path)
        faces = engine.detect(image)  # type: ignore[attr-defined]
        identity = label.split("/")[0]
        for i, face in enumerate(faces):
            who = f"{identity}-{i}" if len(faces) > 1 else identity
            found[f"{label}#{i}"] = (who, engine.embed(image, face))  # type: ignore[attr-defined]
    return found


def _pairs(embs: dict[str, tuple[str, np.ndarray]]) -> tuple[list[float], list[float]]:
    genuine, impostor = [], []
    for (_, (wa, va)), (_, (wb, vb)) in itertools.combinations(sorted(embs.items()), 2):
        (genuine if wa == wb else impostor).append(float(np.linalg.norm(va - vb)))
    return genuine, impostor


def _rates(genuine: list[float], impostor: list[float]) -> list[dict[str, float]]:
    rows = []
    for t in THRESHOLDS:
        frr = sum(d > t for d in genuine) / max(1, len(genuine))
        far = sum(d <= t for d in impostor) / max(1, len(impostor))
        rows.append({"threshold": t, "FRR": round(frr, 4), "FAR": round(far, 4)})
    return rows


def _clip(photo: Path, out: Path) -> Path:
    """The photograph drifting over a 640x360 background, as H.264 at CRF 28."""
    filt = ("[1:v]scale=-2:300[f];[0:v][f]overlay=x=(W-w)/2+12*sin(t*2):y=(H-h)/2+6*cos(t*3)"
            ":shortest=1,format=yuv420p[v]")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=0x405060:s=640x360:r=25", "-loop", "1", "-i", str(photo),
                    "-filter_complex", filt, "-map", "[v]", "-t", str(CLIP_SECONDS),
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", str(out)],
                   check=True, capture_output=True)
    return out


def _tracks(engine: object, images: dict[str, Path],
            embs: dict[str, tuple[str, np.ndarray]]) -> tuple[list[float], list[float]]:
    """End to end on clips: genuine = a clip of one photograph of the performer against
    references from their other photographs; impostor = a clip of anyone else's face."""
    performer = "obama"
    genuine, impostor = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for key, (who, _) in sorted(embs.items()):
            label, index = key.split("#")
            image = load_image(images[label])
            box = engine.detect(image)[int(index)].box  # type: ignore[attr-defined]
            pad = box.width
            crop = image[max(0, box.top - pad):box.bottom + pad,
                         max(0, box.left - pad):box.right + pad]
            still = Path(tmp) / f"{label.replace('/', '_')}_{index}.png"
            cv2.imwrite(str(still), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            faces = find_faces(engine, _clip(still, still.with_suffix(".mp4")),  # type: ignore[arg-type]
                               seed=7)
            refs = [v for other, (w, v) in embs.items()
                    if w == performer and not other.startswith(label + "#")]
            match = match_identity(faces.evidence(), refs, threshold=9.0)
            distance = min(t.distance for t in match.tracks)
            (genuine if who == performer else impostor).append(distance)
    return genuine, impostor


def _painted(engine: object) -> tuple[str, list[float]]:
    folder = next(d for d in FLARE_DIRS if d.is_dir() and any(d.glob("male01.png")))
    names = sorted(p for p in folder.glob("*.png") if p.stem.startswith(("male", "female")))
    vecs = []
    for path in names:
        image = load_image(path)
        faces = engine.detect(image)  # type: ignore[attr-defined]
        if faces:
            vecs.append(engine.embed(image, faces[0]))  # type: ignore[attr-defined]
    return str(folder), [float(np.linalg.norm(a - b)) for a, b in itertools.combinations(vecs, 2)]


def _show(title: str, genuine: list[float], impostor: list[float]) -> dict[str, object]:
    rows = _rates(genuine, impostor)
    print(f"\n{title}: genuine n={len(genuine)}"
          + (f" ({min(genuine):.3f}-{max(genuine):.3f})" if genuine else "")
          + f", impostor n={len(impostor)}"
          + (f" ({min(impostor):.3f}-{max(impostor):.3f})" if impostor else ""))
    print("  threshold   FRR      FAR")
    for r in rows:
        print(f"  {r['threshold']:.2f}       {r['FRR']:.3f}    {r['FAR']:.4f}")
    return {"genuine": sorted(round(d, 4) for d in genuine),
            "impostor_min": round(min(impostor), 4) if impostor else None,
            "impostor_n": len(impostor), "rates": rows}


def main(argv: list[str] | None = None) -> int:
    engine = face_engine_of("face", "dlib")
    images = real_faces()
    embs = _embed_all(engine, images)
    report: dict[str, object] = {"engine": "dlib", "metric": "euclidean"}
    report["photos"] = _show("real photographs, pair by pair", *_pairs(embs))
    report["tracks"] = _show("real photographs as clips, judged as tracks (end to end)",
                             *_tracks(engine, images, embs))
    folder, painted = _painted(engine)
    report["painted"] = _show(f"painted portraits ({folder}), distinct pairs", [], painted)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
