"""The processor worker: leases tile tasks (with the previous and reference tiles), imports the graph's
inputs, runs the tile graph, stores and indexes its outputs, deletes what is no longer needed (spec §9).
Run it with `python -m services.processor`."""
