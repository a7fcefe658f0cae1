"""Indexing into a Geocube server (https://github.com/airbusgeo/geocube) over its own gRPC API: layer
validation and records at ingestion (catalogue), dataset indexation (processor). See docs/geocube.md."""
