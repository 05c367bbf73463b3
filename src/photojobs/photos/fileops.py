"""File moves that never overwrite and copies that are verified before they become visible."""

from __future__ import annotations

import errno
import os
import re
import stat
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from zlib_ng import zlib_ng

from .filenames import TMP_PREFIX
from .projects import MARKER
from .writing import claim_move

CHUNK = 1024 * 1024
RANGE_CHUNK = 64 * 1024 * 1024
# The calls that write a copy, as names, so a test can inject a fault (ENOSPC) where the kernel
# would: the in-kernel copy, and plain writes where the kernel cannot copy between the two files.
_copy_range = getattr(os, "copy_file_range", None)
_write = os.write
_NO_RANGE_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF}
# A temp file of ours that nothing has written, renamed or touched for this long was left by a
# killed process (a copy is written, verified and renamed in minutes, a derivative in seconds).
TEMP_MAX_AGE_SECONDS = 3600.0
# The temp names our writers use, by the project subfolder they write in; nothing else is ours.
_DERIVATIVE_TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")   # imaging._save_atomic (mkstemp's 8 characters)
OUR_TEMP_NAMES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("", re.compile(rf"{re.escape(TMP_PREFIX)}[0-9a-f]{{12}}|\.{re.escape(MARKER)}\.tmp")),  # copy_verified, the marker
    (".thumb", _DERIVATIVE_TEMP),
    (".preview", _DERIVATIVE_TEMP),
    (".trash/.info", re.compile(r"\..+\.json\.tmp")),      # trash.move_to_trash's record of a trashed file
)


class CopyError(OSError):
    """A copy that did not complete; nothing was left behind at the target."""


@dataclass(frozen=True)
class Copied:
    size: int


def place_no_replace(src: Path, dst: Path) -> None:
    """Give `src` the name `dst` on the same filesystem; FileExistsError if `dst` exists.

    os.replace would silently overwrite a file another process put there meanwhile, so we
    hard-link (which refuses an existing name) and then drop the old name."""
    claim_move(src, dst)   # inside writing(lib): the folder watcher knows it is us
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # A filesystem without hard links (FAT, some network shares): check, then rename.
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "File exists", str(dst)) from None
        os.replace(src, dst)
        return
    os.unlink(src)


def unique_name(folder: Path, name: str, taken: Callable[[str], bool] | None = None) -> str:
    """`name`, or `stem (2).ext`, `stem (3).ext`... the first that is free in `folder`."""
    taken = taken or (lambda n: os.path.lexists(folder / n))
    if not taken(name):
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 2
    while True:
        candidate = f"{stem} ({n}){dot}{ext}"
        if not taken(candidate):
            return candidate
        n += 1


def move_unique(src: Path, folder: Path, name: str) -> str:
    """Move `src` into `folder` under `name` or a free variant of it; never overwrites.
    Returns the name used."""
    while True:
        target = unique_name(folder, name)
        try:
            place_no_replace(src, folder / target)
            return target
        except FileExistsError:
            continue  # somebody took that name between our check and the link: next one


def idle_for(st: os.stat_result, now: float) -> float:
    """Seconds since a file was last written, created or renamed (its mtime or ctime, whichever
    is later: a verified copy gets the camera's old mtime back, but its ctime says "just now"),
    by `now` -- the library's clock, so tests can step it."""
    return now - max(st.st_mtime, st.st_ctime)


def sweep_temp_files(project_path: Path, *, now: float, older_than: float = TEMP_MAX_AGE_SECONDS) -> list[str]:
    """Delete the temp files our own writers left in a project when their process was killed,
    once idle for `older_than` seconds. Only names in OUR_TEMP_NAMES are touched, never a
    user's file. Returns what was removed, relative to the project folder."""
    removed = []
    for sub, pattern in OUR_TEMP_NAMES:
        folder = project_path / sub if sub else project_path
        try:
            it = os.scandir(folder)
        except OSError:
            continue
        with it:
            for entry in it:
                if not entry.name.startswith(".") or not pattern.fullmatch(entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode) or idle_for(st, now) < older_than:
                        continue
                    os.unlink(entry.path)
                except OSError:
                    continue  # gone meanwhile, or not ours to delete after all: leave it
                removed.append(f"{sub}/{entry.name}" if sub else entry.name)
    return sorted(removed)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def checksum_file(path: Path) -> int:
    """CRC-32 of a file's bytes: the copy check (it catches corrupted or short copies; nothing
    adversarial is involved, so a cryptographic hash would only cost time). zlib-ng's is zlib's
    CRC-32 at ~4x the speed (~15 GB/s here): reading the file back costs more than checking it."""
    crc = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            crc = zlib_ng.crc32(view[:n], crc)
    return crc


def same_content(a: Path, b: Path) -> bool:
    """Byte-for-byte equality (sizes first, so most mismatches cost nothing). Exact, not a
    hash: a false "same" would make --move delete a source that was never copied."""
    try:
        if os.stat(a).st_size != os.stat(b).st_size:
            return False
        with open(a, "rb", buffering=0) as fa, open(b, "rb", buffering=0) as fb:
            while True:
                x, y = fa.read(CHUNK), fb.read(CHUNK)
                if x != y:
                    return False
                if not x:
                    return True
    except FileNotFoundError:
        return False


def copy_verified(src: Path, folder: Path, name: str, *, on_bytes: Callable[[int], None] | None = None) -> Copied:
    """Copy `src` to `folder/name`: a hidden temp file, fsync, source mtime kept, size and hash
    (CRC-32) checked against what is on disk, then put in place without overwriting (FileExistsError if
    the name is taken). On any failure the temp file is removed and a
    CopyError names the source."""
    tmp = folder / f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}"
    size = 0
    try:
        fd_in = os.open(src, os.O_RDONLY)
    except OSError as exc:
        raise CopyError(exc.errno, f"cannot read {src}: {exc.strerror}") from None
    try:
        before = os.fstat(fd_in)
        fd_out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            size = _copy_bytes(fd_in, fd_out, on_bytes)
            os.fsync(fd_out)
        finally:
            os.close(fd_out)
        after = os.fstat(fd_in)
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or size != before.st_size:
            raise CopyError(errno.EIO, f"{src} changed while it was being copied")
        os.utime(tmp, ns=(before.st_atime_ns, before.st_mtime_ns))
        # Both sides read back and compared by CRC-32, the two reads side by side (zlib-ng and
        # read() let go of the GIL): the copy is checked against what the source holds.
        crc_src, crc = _pool().map(checksum_file, (src, tmp))
        if os.stat(tmp).st_size != size or crc != crc_src:
            raise CopyError(errno.EIO, f"the copy of {src} does not match the original")
        if not os.path.exists(src):
            # The source vanished (card pulled) after the last read: what we have may be all
            # of it, but we cannot prove it, so it does not count.
            raise CopyError(errno.ENOENT, f"{src} disappeared while it was being copied")
        place_no_replace(tmp, folder / name)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, (CopyError, FileExistsError)) or not isinstance(exc, OSError):
            raise
        what = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror or str(exc)
        raise CopyError(exc.errno, f"cannot copy {src}: {what}") from None
    finally:
        os.close(fd_in)
    return Copied(size=size)


def move_within_filesystem(src: Path, folder: Path, name: str) -> Copied | None:
    """--move when source and project share a filesystem: give the file its new name (a hard
    link, then the old name dropped), so no byte is copied and none can differ. None when
    they are on different filesystems (the caller copies and verifies instead).
    FileExistsError if `name` is taken; never overwrites."""
    try:
        st = os.stat(src, follow_symlinks=False)
        if st.st_dev != os.stat(folder).st_dev or not os.path.isfile(src) or os.path.islink(src):
            return None
    except OSError:
        return None
    try:
        place_no_replace(src, folder / name)
    except FileExistsError:
        raise
    except OSError:
        return None  # e.g. a read-only source: copying still works
    fsync_dir(folder)
    return Copied(size=st.st_size)


def _copy_bytes(fd_in: int, fd_out: int, on_bytes: Callable[[int], None] | None) -> int:
    """Copy a whole file between descriptors: in the kernel (copy_file_range: no trip through
    Python's memory) where it can, else with plain reads and writes. Returns the bytes copied."""
    size = 0
    use_range = _copy_range is not None
    while use_range:
        try:
            n = _copy_range(fd_in, fd_out, RANGE_CHUNK)
        except OSError as exc:
            if size == 0 and exc.errno in _NO_RANGE_COPY:
                use_range = False  # e.g. two filesystems this kernel won't copy between
                break
            raise
        if n == 0:
            return size
        size += n
        if on_bytes:
            on_bytes(n)
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = os.readv(fd_in, [buf])
        if n == 0:
            return size
        written = 0
        while written < n:
            written += _write(fd_out, view[written:n])
        size += n
        if on_bytes:
            on_bytes(n)


_executor = None


def _pool():
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="photojobs-verify")
    return _executor
