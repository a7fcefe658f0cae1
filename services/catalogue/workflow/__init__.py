"""The workflow state machine of scenes and tiles (spec §5.6-5.8)."""
