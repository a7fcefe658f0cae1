"""Sentinel-1 IW/EW SLC burst tiling (spec sentinel1-bursts.md, reference-behaviour §3.3).

`annotations` finds and reads a product's annotation XML files, `parse` turns one file into bursts,
`burst_id` holds ESA's burst-ID arithmetic, `inventory` filters bursts by AOI and links them across dates.
"""
