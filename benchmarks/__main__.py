"""`make bench`: run every benchmark in turn; each prints its own table of ratios and
writes benchmarks/results/<name>.json. ``python -m benchmarks NAME ...`` runs some."""

from __future__ import annotations

import importlib
import inspect
import sys
import time
import traceback

ORDER = ("consent", "ledger", "merkle", "c2pa", "publish", "watermark", "audio_watermark",
         "media", "face", "identity", "speech", "dub_audio", "lipsync", "footage", "reenact",
         "wav2lip", "musetalk", "dub", "server")


def main(names: list[str]) -> int:
    failed = []
    for name in names or ORDER:
        try:
            module = importlib.import_module(f"benchmarks.{name}_bench")
        except ModuleNotFoundError as exc:
            print(f"== {name}: not available ({exc})")
            continue
        print(f"\n== {name} " + "=" * (70 - len(name)), flush=True)
        start = time.perf_counter()
        saved_argv = sys.argv
        try:
            sys.argv = [f"{name}_bench"]  # each benchmark parses its own defaults
            params = inspect.signature(module.main).parameters
            rc = module.main([]) if params else module.main()
            if isinstance(rc, int) and rc != 0:
                failed.append(name)
        except Exception:  # noqa: BLE001 - report and go on with the next benchmark
            traceback.print_exc()
            failed.append(name)
        finally:
            sys.argv = saved_argv
        print(f"   ({time.perf_counter() - start:.1f} s)")
    if failed:
        print(f"\nbenchmarks that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
