"""Every service in one process on loopback: the embedded default behind `geocube-ingester up` and `demo`."""
