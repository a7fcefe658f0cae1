"""Offline demo data: a local archive of realistic Sentinel-2 products over the DenmarkDemoS2 area."""

from libs.demo.archive import build_demo_archive

__all__ = ["build_demo_archive"]
