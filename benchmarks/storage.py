"""Object-storage benchmark: `put_file` then `get_file` of files of a few sizes through `s3://`, against
moto's S3 server in its own process on loopback (so that it competes with our client for no GIL).

moto keeps objects in memory and is the slower side: the figures compare clients on the same server,
not what AWS would give. Run from a checkout to measure that checkout's storage code; medians over
`--repeat` rounds, printed as a markdown table with the client's peak RSS.

    .venv/bin/python -m benchmarks.storage [--sizes-mib 1,16,200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import requests

from libs.storage import ObjectStoreConfig, open_storage


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen(
        [pathlib.Path(sys.executable).with_name("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):  # bounded wait for the port to answer
        try:
            requests.get(url + "/moto-api/", timeout=1).close()
            return server, url
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto_server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", default="1,16,200")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    server, url = _start_moto()
    try:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        requests.put(f"{url}/{bucket}", timeout=10).raise_for_status()
        config = ObjectStoreConfig(
            s3_endpoint_url=url,
            s3_region="us-east-1",
            s3_addressing_style="path",
            s3_access_key_id="AKIABENCHBENCHBENCH0",
            s3_secret_access_key="bench",
        )
        storage = open_storage(f"s3://{bucket}/bench", config)
        print("| size | put (s) | put MiB/s | get (s) | get MiB/s |")
        print("|---|---|---|---|---|")
        with tempfile.TemporaryDirectory() as folder:
            for size_mib in (int(part) for part in args.sizes_mib.split(",")):
                source = pathlib.Path(folder) / f"{size_mib}.bin"
                source.write_bytes(os.urandom(size_mib << 20))
                puts, gets = [], []
                for round_ in range(args.repeat):
                    start = time.perf_counter()
                    storage.put_file(source, f"{size_mib}/{round_}.bin")
                    puts.append(time.perf_counter() - start)
                    target = pathlib.Path(folder) / "back.bin"
                    start = time.perf_counter()
                    storage.get_file(f"{size_mib}/{round_}.bin", target)
                    gets.append(time.perf_counter() - start)
                    assert target.stat().st_size == source.stat().st_size
                    target.unlink()
                put, get = statistics.median(puts), statistics.median(gets)
                print(
                    f"| {size_mib} MiB | {put:.3f} | {size_mib / put:.0f} | {get:.3f} | {size_mib / get:.0f} |"
                )
                source.unlink()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nclient peak RSS: {rss:.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
