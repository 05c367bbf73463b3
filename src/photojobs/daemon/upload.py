"""Receiving a multipart upload: parts streamed to a staging folder inside the library, under a size cap.

The parts are written under names we choose (the client's file name is untrusted and only
passed on, cleaned, as the name the import should give the photo), so nothing a client
sends can write outside the staging folder.
"""

from __future__ import annotations

import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

MAX_FIELD_BYTES = 64 * 1024


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
    """Callbacks for python-multipart's streaming parser."""

    def __init__(self, received: Received, file_field: str):
        self.r = received
        self.file_field = file_field
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
        else:
            self.field_name, self.field_value = name, []

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.out is not None:
            self.out.write(data[start:end])
        elif self.field_value is not None:
            self.field_value.append(data[start:end])
            if sum(map(len, self.field_value)) > MAX_FIELD_BYTES:
                raise UploadError(f"form field {self.field_name!r} is larger than {MAX_FIELD_BYTES} bytes")

    def part_end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.r.files.append((self.path, self.client_name))
            self.out = None
        elif self.field_value is not None:
            self.r.fields[self.field_name] = b"".join(self.field_value).decode("utf-8", "replace")
            self.field_value = None

    def close(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None


async def receive_upload(request: Request, staging: Path, *, field: str, max_bytes: int) -> Received:
    """Stream a multipart/form-data body into `staging`; files of form field `field` are kept."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError("expected a multipart/form-data body with a boundary")
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise TooLarge(f"upload of {int(length)} bytes is over the limit of {max_bytes} bytes "
                       "(daemon.max_upload_mb)")
    staging.mkdir(parents=True)
    received = Received(staging)
    writer = _PartWriter(received, field)
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
        received.cleanup()
        raise UploadError(f"malformed multipart body: {exc}") from None
    except BaseException:
        writer.close()
        received.cleanup()
        raise
    return received
