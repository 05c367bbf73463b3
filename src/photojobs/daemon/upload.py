"""Receiving a multipart upload: parts streamed to a staging folder inside the library, under a size cap.

The parts are written under names we choose (the client's file name is untrusted and only
passed on, cleaned, as the name the import should give the photo), so nothing a client
sends can write outside the staging folder.
"""

from __future__ import annotations

import queue as queue_mod
import shutil
import threading
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, TypeVar

import anyio

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

MAX_FIELD_BYTES = 64 * 1024
T = TypeVar("T")
# Uploads imported at once; more wait their turn (their files are still received meanwhile).
IMPORT_THREADS = 8


class UploadError(Exception):
    """The request is not a well-formed multipart upload (400)."""


class TooLarge(Exception):
    """The upload is over daemon.max_upload_mb (413)."""


def clean_name(raw: bytes | str) -> tuple[str | None, str | None]:
    """(name, None) for an acceptable client file name, else (None, why). Only the last path
    component is kept (browsers on Windows send "C:\\dir\\a.jpg")."""
    name = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name in (".", ".."):
        return None, "empty file name"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return None, "file name contains control characters"
    if name.startswith("."):
        return None, "hidden file name"
    if len(name.encode()) > 255:
        return None, "file name is too long"
    return name, None


@dataclass
class Received:
    staging: Path
    files: list[tuple[Path, str]] = field(default_factory=list)   # (staged path, client's name)
    rejected: list[dict] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def cleanup(self) -> None:
        """Remove what the import did not take (it moves accepted files out)."""
        shutil.rmtree(self.staging, ignore_errors=True)


class _PartWriter:
    """Callbacks for python-multipart's streaming parser; `arrival(received, path, name)` hears of
    each file as it begins (path None) and once it is whole."""

    def __init__(self, received: Received, file_field: str,
                 arrival: Callable[[Received, Path | None, str], None] | None = None):
        self.r = received
        self.file_field = file_field
        self.arrival = arrival
        self.headers: dict[bytes, bytes] = {}
        self._name: list[bytes] = []
        self._value: list[bytes] = []
        self.out: BinaryIO | None = None
        self.path: Path | None = None
        self.client_name: str | None = None
        self.field_name: str | None = None
        self.field_value: list[bytes] | None = None
        self.count = 0

    def callbacks(self) -> dict:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data,
                "on_part_end": self.part_end}

    def part_begin(self) -> None:
        self.headers = {}
        self.out = self.path = self.client_name = self.field_name = self.field_value = None

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._name.append(data[start:end])

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value.append(data[start:end])

    def header_end(self) -> None:
        self.headers[b"".join(self._name).strip().lower()] = b"".join(self._value).strip()
        self._name.clear()
        self._value.clear()

    def headers_finished(self) -> None:
        disposition, options = parse_options_header(self.headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise UploadError("a multipart part has no form-data name")
        name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            if name != self.file_field:
                return  # a file in another field: read past it
            cleaned, why = clean_name(options[b"filename"])
            if cleaned is None:
                raw = options[b"filename"].decode("utf-8", "replace")
                self.r.rejected.append({"name": raw, "path": raw, "reason": why})
                return
            self.count += 1
            self.path = self.r.staging / f"{self.count:05d}.upload"
            self.out = open(self.path, "xb")
            self.client_name = cleaned
            if self.arrival:
                self.arrival(self.r, None, cleaned)
        else:
            self.field_name, self.field_value = name, []

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.out is not None:
            self.out.write(memoryview(data)[start:end])   # no copy of the (~256 KB) chunk
        elif self.field_value is not None:
            self.field_value.append(data[start:end])
            if sum(map(len, self.field_value)) > MAX_FIELD_BYTES:
                raise UploadError(f"form field {self.field_name!r} is larger than {MAX_FIELD_BYTES} bytes")

    def part_end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.r.files.append((self.path, self.client_name))
            self.out = None
            if self.arrival:
                self.arrival(self.r, self.path, self.client_name)
        elif self.field_value is not None:
            if self.r.files:
                # An option after the photos would have come too late for those already imported.
                raise UploadError(f"form field {self.field_name!r} must come before the files")
            self.r.fields[self.field_name] = b"".join(self.field_value).decode("utf-8", "replace")
            self.field_value = None

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


async def receive_upload(request: Request, staging: Path, *, field: str, max_bytes: int,
                         arrival: Callable[[Received, Path | None, str], None] | None = None) -> Received:
    """Stream a multipart/form-data body into `staging`; files of form field `field` are kept.
    `arrival` hears of each file as it begins and once it is whole (see _PartWriter)."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError("expected a multipart/form-data body with a boundary")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise TooLarge(f"upload of {int(length)} bytes is over the limit of {max_bytes} bytes "
                       "(daemon.max_upload_mb)")
    staging.mkdir(parents=True)
    received = Received(staging)
    writer = _PartWriter(received, field, arrival)
    parser = MultipartParser(params[b"boundary"], callbacks=writer.callbacks())
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"upload is over the limit of {max_bytes} bytes (daemon.max_upload_mb)")
            parser.write(chunk)
        parser.finalize()
        if writer.out is not None or writer.field_value is not None:
            raise UploadError("the multipart body ended in the middle of a part")
    except MultipartParseError as exc:
        writer.close()
        if arrival is None:  # else files already handed on may still be in use: the caller cleans up
            received.cleanup()
        raise UploadError(f"malformed multipart body: {exc}") from None
    except BaseException:
        writer.close()
        if arrival is None:
            received.cleanup()
        raise
    return received


_END = object()


class _Arrivals:
    """Files handed from the receiving event loop to the import's thread, in order."""

    def __init__(self) -> None:
        self._queue: queue_mod.SimpleQueue = queue_mod.SimpleQueue()

    def put(self, path: Path | None, name: str) -> None:
        self._queue.put((path, name))

    def end(self) -> None:
        self._queue.put(_END)

    def __iter__(self) -> Iterator[tuple[Path | None, str]]:
        while (item := self._queue.get()) is not _END:
            yield item


async def receive_and_import(request: Request, staging: Path, *, field: str, max_bytes: int,
                             run_import: Callable[[Iterable[tuple[Path | None, str]], dict[str, str]], T],
                             streaming: bool = True) -> tuple[Received, T | None]:
    """Receive an upload and import it: each file as soon as it is whole (`streaming`, so its
    previews are made while the rest arrives), else all of them once the body is in.

    `run_import(files, fields)` runs in a worker thread, given an iterable of (path, name) (and
    (None, name) when a file begins) and the form fields received before the first file. When
    the body breaks off (too large, malformed, the client gone), what was whole before is still
    imported, and the error says so. Returns the Received and run_import's result (None when the
    body held no file)."""
    if not streaming:
        received = await receive_upload(request, staging, field=field, max_bytes=max_bytes)
        if not received.files:
            return received, None
        try:
            result = await anyio.to_thread.run_sync(run_import, list(received.files), dict(received.fields))
        except BaseException:
            received.cleanup()
            raise
        return received, result
    from ..photos.imaging_pool import warm_up
    warm_up()  # the decoders load while the first file arrives
    arrivals = _Arrivals()
    importing: list[Future] = []

    def arrival(received: Received, path: Path | None, name: str) -> None:
        if not importing:
            importing.append(_in_thread(run_import, arrivals, dict(received.fields)))
        arrivals.put(path, name)

    try:
        received = await receive_upload(request, staging, field=field, max_bytes=max_bytes, arrival=arrival)
    except BaseException as exc:
        arrivals.end()
        try:
            if importing:
                result = await anyio.to_thread.run_sync(importing[0].result)
                if isinstance(exc, (TooLarge, UploadError)):
                    raise type(exc)(f"{exc}; {_imported_before(result)}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    arrivals.end()
    try:
        result = await anyio.to_thread.run_sync(importing[0].result) if importing else None
    except BaseException:
        received.cleanup()
        raise
    return received, result


_importers: ThreadPoolExecutor | None = None
_importers_lock = threading.Lock()


def _in_thread(fn: Callable[..., T], *args) -> Future:
    """`fn(*args)` on one of the daemon's import threads. Not anyio's shared pool: an import waits on
    its arrivals for as long as the body takes. Kept threads keep their catalog connection."""
    global _importers
    with _importers_lock:
        if _importers is None:
            _importers = ThreadPoolExecutor(max_workers=IMPORT_THREADS, thread_name_prefix="upload-import")
    return _importers.submit(fn, *args)


def _imported_before(report: Any) -> str:
    imported = len(getattr(report, "imported", []) or [])
    job = getattr(report, "job", None)
    return (f"{imported} files received before it were imported" + (f" (processing job {job['id']})" if job else "")
            if imported else "no file was imported")
