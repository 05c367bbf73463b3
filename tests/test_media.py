"""Tests of file kinds by extension and content, and of metadata reading."""

import struct

import pytest
from PIL import Image

import imagegen
from photojobs.photos import media


@pytest.mark.parametrize("ext, role", [
    ("jpg", "jpg"), (".JPG", "jpg"), ("Jpeg", "jpg"), ("CR3", "raw"), (".nef", "raw"),
    ("dng", "raw"), ("x3f", "raw"), ("png", "other"), ("TIF", "other"), ("tiff", "other"),
    ("webp", "other"), ("xmp", "sidecar"), (".PP3", "sidecar"), ("dop", "sidecar"),
    ("txt", None), ("", None), ("mov", None),
])
def test_role_of(ext, role):
    assert media.role_of(ext) == role


@pytest.mark.parametrize("head, kind", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
    (b"II*\x00\x08\x00\x00\x00", "tiff"),
    (b"MM\x00*\x00\x00\x00\x08", "tiff"),
    (b"II*\x00\x10\x00\x00\x00CR\x02\x00", "tiff"),  # CR2 is TIFF
    (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01", "cr3"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "heic"),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", "avif"),
    (b"FUJIFILMCCD-RAW 0201FF383501", "raf"),
    (b"IIRO\x08\x00\x00\x00", "orf"), (b"IIRS\x08\x00\x00\x00", "orf"),
    (b"MMOR\x00\x00\x00\x08", "orf"),
    (b"IIU\x00\x18\x00\x00\x00", "rw2"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
    (b"FOVb\x00\x00", "x3f"),
    (b"hello world, not an image", None), (b"", None),
])
def test_sniff_bytes(head, kind):
    assert media.sniff_bytes(head) == kind


def test_sniff_reads_real_files(tmp_path):
    assert media.sniff(imagegen.make_jpeg(tmp_path / "a.jpg")) == "jpeg"
    assert media.sniff(imagegen.make_png_alpha(tmp_path / "a.png")) == "png"
    assert media.sniff(imagegen.make_tiff16(tmp_path / "a.tif")) == "tiff"
    assert media.sniff(imagegen.make_dng(tmp_path / "a.dng", size=(64, 48))) == "tiff"
    imagegen.displayed_image((64, 48)).save(tmp_path / "a.webp")
    assert media.sniff(tmp_path / "a.webp") == "webp"
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert media.sniff(tmp_path / "empty.jpg") is None
    with pytest.raises(FileNotFoundError):
        media.sniff(tmp_path / "missing.jpg")


def test_text_file_named_jpg_does_not_match(tmp_path):
    fake = tmp_path / "x.jpg"
    fake.write_text("this is not a photo\n")
    kind = media.sniff(fake)
    assert kind is None
    assert not media.content_matches("jpg", kind)


@pytest.mark.parametrize("ext, kind, ok", [
    ("jpg", "jpeg", True), ("JPEG", "jpeg", True), ("jpg", "png", False),
    ("dng", "tiff", True), (".NEF", "tiff", True), ("arw", "tiff", True),
    ("cr2", "tiff", True), ("cr3", "cr3", True), ("cr3", "tiff", False),
    ("raf", "raf", True), ("raf", "jpeg", False), ("orf", "orf", True),
    ("rw2", "rw2", True), ("tif", "tiff", True), ("png", "png", True),
    ("webp", "webp", True), ("dng", None, False), ("xmp", None, True),
    ("txt", "jpeg", False),
])
def test_content_matches(ext, kind, ok):
    assert media.content_matches(ext, kind) is ok


def test_metadata_of_jpeg(tmp_path):
    path = imagegen.make_jpeg(tmp_path / "a.jpg", size=(600, 400), orientation=6,
                              exif_datetime="2023:07:14 18:05:09", make="Canon",
                              model="Canon EOS R5")
    assert media.read_metadata(path) == {
        "date_time_original": "2023-07-14T18:05:09", "make": "Canon",
        "model": "Canon EOS R5", "orientation": 6,
        "width": 400, "height": 600,  # as stored: the displayed 600x400 rotated
    }


def test_metadata_subseconds_and_offset(tmp_path):
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = "2024:01:02 03:04:05"
    ifd[0x9291] = "25"
    ifd[0x9011] = "+02:00"
    path = tmp_path / "a.jpg"
    imagegen.displayed_image((32, 24)).save(path, exif=exif.tobytes())
    meta = media.read_metadata(path)
    assert meta["date_time_original"] == "2024-01-02T03:04:05.25+02:00"
    assert meta["orientation"] is None and meta["make"] is None


def test_metadata_of_dng(tmp_path):
    path = imagegen.make_dng(tmp_path / "a.dng", size=(600, 400), orientation=8,
                             exif_datetime="2022:12:31 23:59:58", make="Photojobs",
                             model="Synthetic DNG")
    assert media.read_metadata(path) == {
        "date_time_original": "2022-12-31T23:59:58", "make": "Photojobs",
        "model": "Synthetic DNG", "orientation": 8, "width": 400, "height": 600,
    }


def test_metadata_of_tiff_reports_stored_size(tmp_path):
    path = imagegen.make_tiff16(tmp_path / "a.tif", size=(300, 200), orientation=6)
    meta = media.read_metadata(path)
    assert (meta["width"], meta["height"], meta["orientation"]) == (200, 300, 6)


def test_metadata_of_png_and_bomb_do_not_decode(tmp_path):
    meta = media.read_metadata(imagegen.make_png_alpha(tmp_path / "a.png", size=(30, 20)))
    assert (meta["width"], meta["height"], meta["date_time_original"]) == (30, 20, None)
    bomb = media.read_metadata(imagegen.make_bomb_png(tmp_path / "b.png"))
    assert (bomb["width"], bomb["height"]) == (100_000, 100_000)


def test_metadata_of_png_exif_before_or_after_the_pixels(tmp_path):
    exif = imagegen._exif(orientation=6, exif_datetime="2023:05:06 07:08:09", make="Pngmaker").tobytes()[6:]
    after = media.read_metadata(imagegen.make_png_exif_after_pixels(tmp_path / "after.png", exif))
    before = tmp_path / "before.png"
    Image.new("RGB", (40, 30)).save(before, "PNG", exif=exif)
    for meta in (after, media.read_metadata(before)):
        assert meta == {"date_time_original": "2023-05-06T07:08:09", "make": "Pngmaker", "model": None,
                        "orientation": 6, "width": 40, "height": 30}


def test_metadata_of_odd_files_does_not_raise(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00garbage")
    assert media.read_metadata(junk) == media.empty_metadata()
    raw = tmp_path / "junk.nef"
    raw.write_bytes(b"II*\x00\xff\xff\xff\x00" + b"\x00" * 100)
    assert media.read_metadata(raw) == media.empty_metadata()
    truncated = imagegen.make_truncated_jpeg(tmp_path / "t.jpg", size=(80, 60))
    assert media.read_metadata(truncated)["width"] == 80


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def test_metadata_of_cr3_boxes(tmp_path):
    # Not a decodable CR3, but the same box layout: IFD0 in CMT1, Exif IFD in CMT2.
    ifd0 = Image.Exif()
    ifd0[0x010F], ifd0[0x0110], ifd0[0x0112] = "Canon", "Canon EOS R6", 8
    exif_ifd = Image.Exif()
    exif_ifd[0x9003] = "2021:03:04 05:06:07"
    tiff = lambda e: e.tobytes()[6:]  # noqa: E731 - strip "Exif\0\0"
    uuid = _box(b"uuid", b"\x85\xc0\xb6\x87\x82\x0f\x11\xe0\x81\x11\xf4\xceF+jH"
                + _box(b"CMT1", tiff(ifd0)) + _box(b"CMT2", tiff(exif_ifd)))
    path = tmp_path / "a.cr3"
    path.write_bytes(_box(b"ftyp", b"crx \x00\x00\x00\x01crx isom") + _box(b"moov", uuid))
    assert media.sniff(path) == "cr3"
    meta = media.read_metadata(path)
    assert meta["make"] == "Canon" and meta["model"] == "Canon EOS R6"
    assert meta["orientation"] == 8
    assert meta["date_time_original"] == "2021-03-04T05:06:07"
