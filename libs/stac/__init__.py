"""STAC output of the indexed layers: items (items.py), the static catalog on storage (static.py)."""
