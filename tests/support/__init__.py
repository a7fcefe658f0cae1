"""Real local servers and checks the tests share (HTTP, S3, COG validation)."""
