"""Outbound HTTP, on requests (urllib3 underneath): the one client stack of the project.

client.py   the Session factory: timeouts, proxies (with credentials), CA bundle, redirects
origins.py  origin(), and which redirects keep credentials
errors.py   the status → error table (libs/runtime/errors.py classes), transport failures
retry.py    the retry policy (urllib3 Retry), Retry-After, back-off

Why requests: it is what the project was specified with and what pystac-client runs on, so STAC searches
share our sessions and retry policy; its proxy, redirect and certificate handling is what the hand-made
http.client code re-implemented (and got wrong for proxy credentials). Downloads stream with urllib3's
`read1`, one socket read at a time, at http.client's speed (docs/benchmarks.md).
"""
