"""Benchmark: image filter throughput and API latency.

Run with ``uv run python benchmarks/imagefilter_scan.py``. Reports, in one run:

* images per second of ``Scanner.scan`` over a folder of JPEG photos (read,
  decode, preprocess, score, decide; the scanner ``veedel images scan``
  builds), of ``scan_folder`` writing a CSV, and of a bare onnxruntime session on
  the same preprocessed tensors in the same batches, and their ratio (the aim
  is 0.8 or better: the filter's own work should cost little beside the
  model), with the full decode (the default) and with ``fast_decode``; the
  bare session runs with onnxruntime's defaults and, as a second reference,
  without spinning threads as the filter's own session does; and the CPU time
  per image of the scan and of the bare session without spinning, which the
  machine's other load moves less than the wall clock;
* p50 and p95 latency of one image through ``POST /api/v1/images:classify``
  on a live uvicorn server, signed in with an API token.

No assertion on time: this is a report, not a test. The photos are the
benign samples bundled with scikit-image and scikit-learn, re-encoded at a
few sizes typical of phone uploads.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from veedel.imagefilter import OPEN_NSFW, scan_folder
from veedel.imagefilter.decode import read_image_file
from veedel.imagefilter.model import SPINNING
from veedel.imagefilter.scan import image_files
from veedel.imagefilter.settings import ImageFilterSettings

SIZES = [(640, 480), (1280, 960), (1080, 1350), (2016, 1512)]


def _photos(folder: Path, n: int) -> list[Path]:
    import skimage.data
    from sklearn.datasets import load_sample_images

    sources = [Image.fromarray(array) for array in load_sample_images().images]
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        sources.append(Image.fromarray(getattr(skimage.data, name)()))
    for index in range(n):
        image = sources[index % len(sources)].convert("RGB")
        image = image.resize(SIZES[index % len(SIZES)])
        image.save(folder / f"photo-{index:04d}.jpg", quality=88)
    return image_files(folder)


def _bare_session(threads: int | None, *, spinning: bool = True) -> object:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not spinning:
        options.add_session_config_entry(SPINNING, "0")
    if threads is not None:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(
        str(OPEN_NSFW.resolve_path()), options, providers=["CPUExecutionProvider"]
    )


def throughput(n: int, batch_size: int, rounds: int, fast: bool) -> dict[str, float]:
    """Images per second of scan and of the bare session, best of ``rounds``.

    The scanner is the one ``veedel images scan`` builds from the settings.
    """
    scanner = ImageFilterSettings(batch_size=batch_size, fast_decode=fast).scanner()
    classifier = scanner.classifier
    with tempfile.TemporaryDirectory() as tmp:
        photos, out = Path(tmp) / "photos", Path(tmp) / "scores.csv"
        photos.mkdir()
        files = _photos(photos, n)
        decoded = [read_image_file(path, scanner.limits) for path in files]
        tensors = np.concatenate([classifier.tensors(image) for image in decoded])
        sessions = [_bare_session(None), _bare_session(None, spinning=False)]
        name = sessions[0].get_inputs()[0].name  # type: ignore[attr-defined]

        def bare(session: object) -> None:
            for start in range(0, len(tensors), batch_size):
                batch = tensors[start : start + batch_size]
                session.run(None, {name: batch})  # type: ignore[attr-defined]

        def scan() -> None:
            for _ in scanner.scan(files):
                pass

        def scan_csv() -> None:
            scan_folder(photos, out, scanner, resume=False)

        # Warm all up, then alternate so that a change in load hits each alike.
        runs = {
            "bare": lambda: bare(sessions[0]),
            "bare_no_spin": lambda: bare(sessions[1]),
            "scan": scan,
            "scan_csv": scan_csv,
        }
        for run in runs.values():
            run()
        timings: dict[str, list[float]] = {key: [] for key in runs}
        cpu: dict[str, list[float]] = {key: [] for key in runs}
        for _ in range(rounds):
            for key, run in runs.items():
                start = time.process_time()
                timings[key].append(_seconds(run))
                cpu[key].append(time.process_time() - start)
    best = {key: min(values) for key, values in timings.items()}
    return {
        "images": float(n),
        "workers": float(scanner.workers),
        "threads": float(classifier.threads or 0),
        "bare_images_per_s": n / best["bare"],
        "bare_no_spin_images_per_s": n / best["bare_no_spin"],
        "scan_images_per_s": n / best["scan"],
        "scan_csv_images_per_s": n / best["scan_csv"],
        "ratio": best["bare"] / best["scan"],
        "ratio_no_spin": best["bare_no_spin"] / best["scan"],
        # CPU milliseconds per image, which the machine's other load moves
        # less than the wall clock (the spinning session's would count spin).
        "bare_no_spin_cpu_ms": min(cpu["bare_no_spin"]) / n * 1000,
        "scan_cpu_ms": min(cpu["scan"]) / n * 1000,
    }


def _seconds(function: object) -> float:
    start = time.perf_counter()
    function()  # type: ignore[operator]
    return time.perf_counter() - start


def api_latency(requests: int) -> dict[str, float]:
    """p50 and p95 milliseconds of one classify request on a live server."""
    import uvicorn

    from veedel.accounts import add_user, create_token
    from veedel.api.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VEEDEL_DATA_DIR"] = tmp
        os.environ["VEEDEL_CONFIG"] = str(Path(tmp) / "none.toml")
        app = create_app()
        add_user(app.state.store, "bench", "bench-password", "viewer")
        token = create_token(app.state.store, "bench", "bench")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        photo = _photos(Path(tmp), 2)[1].read_bytes()  # 1280 x 960 JPEG
        timings = []
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as client:
            for index in range(requests + 3):
                start = time.perf_counter()
                response = client.post(
                    "/api/v1/images:classify",
                    files={"file": ("photo.jpg", photo, "image/jpeg")},
                )
                elapsed = time.perf_counter() - start
                response.raise_for_status()
                if index >= 3:  # the first requests load the model
                    timings.append(elapsed * 1000)
        server.should_exit = True
        thread.join(timeout=10)
    quantiles = statistics.quantiles(timings, n=20)
    return {
        "requests": float(requests),
        "p50_ms": statistics.median(timings),
        "p95_ms": quantiles[18],
        "photo_bytes": float(len(photo)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()

    for label, fast in [("full decode", False), ("fast_decode", True)]:
        speed = throughput(args.images, args.batch_size, args.rounds, fast)
        print(
            f"scan ({label}): {speed['scan_images_per_s']:.1f} images/s, bare "
            f"onnxruntime on the same tensors: {speed['bare_images_per_s']:.1f} "
            f"images/s, ratio {speed['ratio']:.2f}; bare without spinning "
            f"{speed['bare_no_spin_images_per_s']:.1f} images/s, ratio "
            f"{speed['ratio_no_spin']:.2f}; scan_folder into a CSV "
            f"{speed['scan_csv_images_per_s']:.1f} images/s ({args.images} JPEGs, "
            f"batch {args.batch_size}, {speed['workers']:.0f} decoding workers, "
            f"{speed['threads']:.0f} model threads); CPU per image: scan "
            f"{speed['scan_cpu_ms']:.1f} ms, bare without spinning "
            f"{speed['bare_no_spin_cpu_ms']:.1f} ms"
        )
    latency = api_latency(args.requests)
    print(
        f"API classify: p50 {latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms "
        f"({args.requests} requests, one {latency['photo_bytes'] / 1024:.0f} KiB "
        "JPEG of 1280 x 960 each)"
    )


if __name__ == "__main__":
    main()
