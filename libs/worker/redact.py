"""Server paths out of the messages a worker reports: task messages are shown to clients (`/aoi/…`,
`/scene/…`, `/tile/…`), and a step's command line or an OS error names the worker's folders. Each known
folder (working directory, graph folders, bundled graph library, local storage roots, local archive) is
replaced by a placeholder; the worker's own log keeps the full text."""

from __future__ import annotations

import os
import pathlib
import urllib.parse
from collections.abc import Iterable, Mapping


def _local(uri: str) -> str | None:
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "file":
        return urllib.parse.unquote(parts.path)
    if not parts.scheme and uri.startswith("/"):
        return uri
    return None


class Redactor:
    def __init__(self, places: Mapping[str, str]):
        forms: dict[str, str] = {}
        for folder, placeholder in places.items():
            if not folder or folder == "/":
                continue
            for form in {folder.rstrip("/"), os.path.realpath(folder)}:
                if form and form != "/":
                    forms.setdefault(form, placeholder)
        # Longest first: a folder inside another keeps its own placeholder.
        self._forms = sorted(forms.items(), key=lambda item: len(item[0]), reverse=True)

    def __call__(self, text: str) -> str:
        for folder, placeholder in self._forms:
            text = text.replace(folder, placeholder)
        return text

    @classmethod
    def for_worker(
        cls,
        workdir: pathlib.Path,
        graph_folders: Iterable[pathlib.Path],
        storage_uris: Iterable[str],
        archive_folders: Iterable[str] = (),
    ) -> Redactor:
        from libs.graph.loader import LIBRARY_DIR  # the graph engine is heavy: only workers load it

        places = {str(workdir): "<workdir>", str(LIBRARY_DIR): "<graph library>"}
        places.update({str(folder): "<graph folder>" for folder in graph_folders})
        places.update({path: "<storage>" for path in map(_local, storage_uris) if path})
        places.update({folder: "<archive>" for folder in archive_folders if folder})
        return cls(places)
