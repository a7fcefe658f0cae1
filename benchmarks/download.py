"""Download benchmark: our HTTP provider against `curl -o`, same file, same server, same run.

A sparse file of `--size` bytes (default 1 GiB) is served over loopback by a small threaded server
using `os.sendfile` (a separate process, so it competes with neither client for the GIL). Each round
runs, in this order, `curl -s -o <file> <url>` and our `HttpProvider.fetch` (URL template, no auth) in
a fresh Python subprocess, which reports its wall time and peak RSS (`ru_maxrss`). With `--md5`, a third
client fetches with an MD5 checksum to verify (hashing is on the same thread as the transfer).
Medians over `--repeat` rounds are printed as a markdown table; files are deleted after each client.

    .venv/bin/python -m benchmarks.download [--size-mib 1024] [--repeat 5] [--md5] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SOURCE_ID = "S2A_MSIL1C_20220104T103421_N0301_R108_T32UNF_20220104T123507"


def serve(path: pathlib.Path) -> None:
    """Serves `path` at any URL with sendfile; prints the port, then serves until killed."""
    size = path.stat().st_size

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            self.wfile.flush()
            with path.open("rb") as file:
                offset = 0
                while offset < size:
                    offset += os.sendfile(self.connection.fileno(), file.fileno(), offset, size - offset)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def fetch(url: str, workdir: pathlib.Path, md5: str) -> None:
    """Runs our provider once; prints {"seconds", "max_rss_mib"} as JSON."""
    from services.downloader.providers import http, transfer
    from services.downloader.providers.product import ProductRequest

    provider = http.HttpProvider([url], http.StaticAuth(), transfer.Policy())
    product = ProductRequest(SOURCE_ID, checksums={"MD5": md5} if md5 else {})
    started = time.perf_counter()
    provider.fetch(product, workdir)
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "max_rss_mib": rss}))


def _md5_of_zeros(size: int) -> str:
    digest = hashlib.md5()
    block = bytes(1 << 20)
    for _ in range(size >> 20):
        digest.update(block)
    digest.update(bytes(size & ((1 << 20) - 1)))
    return digest.hexdigest()


def _run_curl(url: str, target: pathlib.Path) -> tuple[float, float]:
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(target), url], check=True)
    return time.perf_counter() - started, 0.0  # curl's RSS is not measured (it is ~10 MiB)


def _run_ours(url: str, workdir: pathlib.Path, md5: str) -> tuple[float, float]:
    command = [sys.executable, "-m", "benchmarks.download", "--fetch", url, "--workdir", str(workdir)]
    if md5:
        command += ["--expect-md5", md5]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return result["seconds"], result["max_rss_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--md5", action="store_true", help="also fetch with an MD5 checksum to verify")
    parser.add_argument("--dir", default=None, help="where the served file and the downloads go")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--fetch", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--expect-md5", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(pathlib.Path(args.serve))
        return
    if args.fetch:
        fetch(args.fetch, pathlib.Path(args.workdir), args.expect_md5)
        return

    size = args.size_mib << 20
    root = pathlib.Path(tempfile.mkdtemp(prefix="bench-download-", dir=args.dir))
    source = root / "product.tif"
    with source.open("wb") as file:
        file.truncate(size)  # sparse: the server's disk reads cost nothing, the clients' writes are real
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.download", "--serve", str(source)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}/{SOURCE_ID}.tif"
        template = f"http://127.0.0.1:{port}/{{SCENE}}.tif"
        md5 = _md5_of_zeros(size) if args.md5 else ""
        clients: dict[str, list[float]] = {"curl -o": [], "HttpProvider": [], "HttpProvider + MD5": []}
        rss: dict[str, list[float]] = {name: [] for name in clients}
        for round_number in range(args.repeat):
            runs = [
                ("curl -o", lambda: _run_curl(url, root / "curl.out")),
                ("HttpProvider", lambda: _run_ours(template, root / "work", "")),
            ]
            if md5:
                runs.append(("HttpProvider + MD5", lambda: _run_ours(template, root / "work", md5)))
            for name, run in runs:
                seconds, peak = run()
                clients[name].append(seconds)
                rss[name].append(peak)
                produced = root / "curl.out" if name == "curl -o" else root / "work" / f"{SOURCE_ID}.tif"
                assert produced.stat().st_size == size, f"{name}: wrong size"
                produced.unlink()
                print(f"round {round_number + 1} {name}: {seconds:.2f}s", file=sys.stderr)
        curl = statistics.median(clients["curl -o"])
        print(f"\n{args.size_mib} MiB over loopback, {args.repeat} rounds\n")
        print("| client | median (s) | min (s) | MiB/s (median) | vs curl (throughput) | peak RSS (MiB) |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, times in clients.items():
            if not times:
                continue
            median = statistics.median(times)
            peak_mib = "–" if name == "curl -o" else f"{max(rss[name]):.0f}"
            print(
                f"| {name} | {median:.2f} | {min(times):.2f} | {args.size_mib / median:.0f} | "
                f"{curl / median:.2f}× | {peak_mib} |"
            )
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
