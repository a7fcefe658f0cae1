"""The `geocube-ingester` command: the demo, the whole stack on loopback, and one subcommand per service."""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import sys
from collections.abc import Sequence

from libs.runtime import logs, tracing
from libs.runtime.errors import IngesterError

_DESCRIPTION = """\
geocube-ingester: turns "these scenes over this area, processed into these layers" into downloaded,
processed, indexed imagery.

  demo        run the whole pipeline once on a generated Sentinel-2 archive (embedded PostgreSQL)
  up          run every service on loopback in the foreground (Ctrl-C stops)
  status      show an AOI's progress, following it live until it settles (over the gateway's HTTP API)
  catalogue   the catalogue gRPC service          (settings: GEOCUBE_CATALOGUE_* variables)
  downloader  the downloader worker               (settings: GEOCUBE_DOWNLOADER_* variables)
  processor   the processor worker                (settings: GEOCUBE_PROCESSOR_* variables)
  gateway     the HTTP gateway                    (settings: GEOCUBE_GATEWAY_* variables)
"""


def _stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        type=pathlib.Path,
        default=pathlib.Path("var"),
        help="folder for the embedded database, archive, storage and working files (default: ./var)",
    )
    parser.add_argument(
        "--database-dsn",
        default=os.environ.get("GEOCUBE_CATALOGUE_DATABASE_DSN", ""),
        help="PostgreSQL DSN; empty starts an embedded PostgreSQL in <workdir>/pg",
    )
    parser.add_argument("--archive", default="", help="local archive folder (default: <workdir>/archive)")
    parser.add_argument("--storage", default="", help="storage root (default: <workdir>/storage)")
    parser.add_argument(
        "--http", default="127.0.0.1:8080", help="gateway listen address (default: %(default)s)"
    )
    parser.add_argument(
        "--grpc", default="127.0.0.1:50051", help="catalogue listen address (default: %(default)s)"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("GEOCUBE_GATEWAY_BEARER_TOKENS", "").split(",")[0],
        help="gateway bearer token (default: GEOCUBE_GATEWAY_BEARER_TOKENS, else a random one)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=2, help="tasks run at once by each worker (default: 2)"
    )
    parser.add_argument("--log-level", default="WARNING", help="log level (default: %(default)s)")


def _stack_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from libs.stack.local import StackConfig

    return StackConfig(
        workdir=args.workdir,
        database_dsn=args.database_dsn,
        archive_path=args.archive,
        storage_uri=args.storage,
        http_address=args.http,
        catalogue_address=args.grpc,
        token=args.token,
        concurrency=args.concurrency,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geocube-ingester",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the whole pipeline once on a generated archive")
    _stack_arguments(demo)
    demo.add_argument("--scenes", type=int, default=4, help="products in the generated archive (default: 4)")
    demo.add_argument("--band-size", type=int, default=256, help="band width/height in pixels (default: 256)")
    demo.add_argument(
        "--timeout", type=float, default=600, help="seconds to wait for the ingestion (default: 600)"
    )
    up = sub.add_parser("up", help="run every service on loopback in the foreground")
    _stack_arguments(up)
    up.add_argument(
        "--demo-archive",
        type=int,
        default=4,
        metavar="N",
        help="generate N demo products when the archive is empty, and register the demo layers (0: no)",
    )
    from libs.stack import status

    status.add_arguments(
        sub.add_parser(
            "status",
            help="show an AOI's progress, following it live until it settles",
            description=status.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    for name in ("catalogue", "downloader", "processor", "gateway"):
        sub.add_parser(name, help=f"run the {name} service (configured by environment variables)")
    return parser


async def _up(args: argparse.Namespace) -> None:
    from libs.http.aio import AsyncClient
    from libs.demo.archive import build_demo_archive
    from libs.runtime.server import wait_for_stop_signal
    from libs.stack import demo
    from libs.stack.local import start_stack

    config = _stack_config(args)
    archive = pathlib.Path(config.archive_path or config.workdir / "archive")
    if args.demo_archive and not any(archive.glob("*.zip")):
        print(f"generating {args.demo_archive} demo products in {archive} ...", flush=True)
        build_demo_archive(archive, count=args.demo_archive, band_size=256)
    config.archive_path = str(archive)
    stack = await start_stack(config)
    try:
        if args.demo_archive:
            payload = demo.json.loads(demo.PAYLOAD.read_text())
            headers = {"Authorization": f"Bearer {stack.token}"}
            async with AsyncClient(base_url=stack.gateway_url, headers=headers, timeout=30) as client:
                await demo.register_layers(client, payload["layers"])
        (config.workdir / "token").write_text(stack.token + "\n")
        grpc_token_file = config.workdir / "grpc-token"
        grpc_token_file.touch(mode=0o600)
        grpc_token_file.chmod(0o600)  # before the token is in it: readable by this user only
        grpc_token_file.write_text(stack.grpc_token + "\n")
        print(f"gateway:   {stack.gateway_url}   (Authorization: Bearer {stack.token})", flush=True)
        print(f"catalogue: {stack.catalogue_target} (gRPC, bearer token in {grpc_token_file})", flush=True)
        print(f"archive:   {stack.archive_path}\nstorage:   {stack.storage_path}", flush=True)
        print(f"stac:      {stack.gateway_url}/stac (API), {stack.storage_path / 'catalog.json'} (static)", flush=True)
        print(
            f"try: curl -F area=@{demo.PAYLOAD} -H 'Authorization: Bearer {stack.token}' {stack.gateway_url}/catalog/scenes",
            flush=True,
        )
        print("Ctrl-C stops", flush=True)
        await wait_for_stop_signal()
    finally:
        print("stopping ...", flush=True)
        await stack.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # gRPC logs an informational line whenever a subprocess is forked (pg_ctl, graph steps): noise here.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    if args.command in ("demo", "up"):
        logs.configure(args.log_level)
        try:
            tracing.configure("geocube-ingester")  # the in-process catalogue and gateway (OTEL_* variables)
            if args.command == "demo":
                from libs.stack import demo

                return demo.main(args.workdir, args.scenes, args.band_size, args.timeout, _stack_config(args))
            asyncio.run(_up(args))
        except IngesterError as exc:  # a bad setting or option: one line, as the services do
            print(f"{args.command}: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "status":
        from libs.stack import status

        return status.run(args)
    if args.command == "catalogue":
        from services.catalogue.__main__ import main as run
    elif args.command == "downloader":
        from services.downloader.__main__ import main as run
    elif args.command == "processor":
        from services.processor.__main__ import main as run
    else:
        from gateway.__main__ import main as run
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
