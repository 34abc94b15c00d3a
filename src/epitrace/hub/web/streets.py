"""The street basemap: one PMTiles archive on the hub host (``EPITRACE_MAP_PMTILES``),
served with HTTP range requests so that MapLibre's PMTiles protocol reads only the
directory and tiles a view needs (docs/operations.md, "A street basemap").

Unset, the maps have no streets and this answers 404; the district base layer and the
stays draw all the same. The archive is public geography (OpenStreetMap), but like the
district outlines it is served to signed-in accounts only.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods

from epitrace.hub import access

CONTENT_TYPE = "application/vnd.pmtiles"
# The longest range answered at once: a PMTiles client asks for a directory (16 KiB) or
# one tile (well under a megabyte); anything longer is cut to this, as RFC 9110 allows.
LONGEST_RANGE = 8 * 1024 * 1024
_BYTES = re.compile(r"^bytes=(\d*)-(\d*)$")


def archive() -> Path | None:
    """The configured archive, or None when there is none (unset or missing file)."""
    configured = settings.EPITRACE_MAP_PMTILES
    if not configured:
        return None
    path = Path(configured)
    return path if path.is_file() else None


def requested_range(header: str, size: int) -> tuple[int, int] | None:
    """The first and last byte (inclusive) of a single ``bytes=`` range of a file of
    ``size`` bytes, cut to ``LONGEST_RANGE``; None when the range cannot be satisfied.
    Several ranges at once are not answered (a PMTiles client asks for one)."""
    match = _BYTES.match(header.strip())
    if match is None or size == 0 or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # the final N bytes
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    if start > end or start >= size:
        return None
    return start, min(end, start + LONGEST_RANGE - 1)


@require_http_methods(["GET", "HEAD"])
@access.api("account.whoami")
def streets_pmtiles(request: HttpRequest) -> HttpResponse:
    """The archive, whole or the one byte range asked for (206); 416 for a range past
    its end; 404 when no archive is configured."""
    path = archive()
    if path is None:
        return HttpResponse(status=404)
    stat = path.stat()
    validator = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    if request.headers.get("Range") is None:
        response: HttpResponse = FileResponse(path.open("rb"), content_type=CONTENT_TYPE)
    else:
        response = _partial(path, request.headers["Range"], stat.st_size)
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["ETag"] = validator
    # Private: behind sign-in; a day: an operator replacing the file changes the ETag.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _partial(path: Path, header: str, size: int) -> HttpResponse:
    wanted = requested_range(header, size)
    if wanted is None:
        refused = HttpResponse(status=416)
        refused.headers["Content-Range"] = f"bytes */{size}"
        return refused
    start, end = wanted
    with path.open("rb") as file:
        file.seek(start)
        body = file.read(end - start + 1)
    response = HttpResponse(body, status=206, content_type=CONTENT_TYPE)
    response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response
