"""Image providers: each places a scene's product, unarchived, in a job's working directory (spec §8.2).

A provider exposes `name` and `fetch(product: ProductRequest, workdir)`, synchronous (run in a thread by
the worker, which sets `product.cancel` when the task is cancelled) or async, and raises an error of
libs.runtime.errors when it cannot deliver the product: NotFound (the worker tries the next one, and
reports "product not found" when every provider said so), Unavailable (transient), PermissionDenied
(credentials refused), FailedPrecondition. docs/providers.md describes each provider and its settings.

local.py       the local archive (row 1)           link.py         scene metadata.download_link (row 2)
http.py        HTTP(S) URL templates               objectstore.py  s3:// gs:// file:// prefixes
copernicus.py  CDSE OAuth + zipper $value          transfer.py     streaming, resume, checksums
product.py     ProductRequest, Progress            (HTTP itself: libs/http)
"""
