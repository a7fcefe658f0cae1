"""What the downloader and the processor share: leasing tasks from the catalogue and running them.

- `convert`: protobuf Scene/Tile <-> domain dataclasses (protos stay at the edge).
- `outcome`: how a job error becomes a reported result (DONE / RETRY / FAILED / temporary, spec §5.11).
- `lease`: the lease loop (long-poll, heartbeats, reporting, graceful drain).
- `status`: what the worker is doing now, served by its GetStatus RPC.
- `app`: a started worker process: the loop plus its own gRPC server.
- `settings`: the settings both workers have.
"""
