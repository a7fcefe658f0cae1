"""Publishing what the processor indexed to an external STAC API (Transactions extension); see
docs/stac-publishing.md."""
