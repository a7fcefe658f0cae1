"""Image providers: each places a scene's product, unarchived, in a job's working directory (spec §8.2).

A provider exposes `fetch(scene_source_id, workdir)`, synchronous (run in a thread by the worker) or
async, and raises when it cannot deliver the product; the worker tries the next one.
"""
