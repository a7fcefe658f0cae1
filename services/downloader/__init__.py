"""The downloader worker: leases scene tasks, fetches each product through a chain of providers, runs
the scene graph once per tile and stores the tile inputs (spec §8). Run it with
`python -m services.downloader`."""
