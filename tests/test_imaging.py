"""Tests of thumbnail and preview derivatives made from real generated images."""

import os

import pytest
from PIL import Image, JpegImagePlugin

import imagegen
from photojobs.photos.imaging import (DerivativeSpec, ImagingError, ImagingSettings, dct_scale, fit,
                                      make_derivatives)

SETTINGS = ImagingSettings(thumbnail=DerivativeSpec(200, 80),
                           preview=DerivativeSpec(2048, 85))
SMALL = ImagingSettings(thumbnail=DerivativeSpec(64, 80), preview=DerivativeSpec(160, 85))


def is_red(px):
    return px[0] > 150 and px[1] < 90 and px[2] < 90


def is_green(px):
    return px[1] > 140 and px[0] < 90 and px[2] < 90


def assert_upright(path, size=None):
    """The output is `size`, has no orientation tag and shows red top-left, green
    top-right (the markers imagegen draws on the displayed image)."""
    with Image.open(path) as im:
        if size is not None:
            assert im.size == size
        assert 0x0112 not in im.getexif()
        rgb = im.convert("RGB")
        w = rgb.width
        inset = max(1, min(rgb.size) // 40)
        assert is_red(rgb.getpixel((inset, inset))), rgb.getpixel((inset, inset))
        assert is_green(rgb.getpixel((w - 1 - inset, inset))), rgb.getpixel((w - 1 - inset, inset))
        assert not is_red(rgb.getpixel((w - 1 - inset, rgb.height - 1 - inset)))


def outputs(tmp_path, name="x"):
    return tmp_path / f"{name}-thumb.jpg", tmp_path / f"{name}-preview.jpg"


@pytest.fixture(scope="session")
def big_jpegs(tmp_path_factory):
    """24 MP (displayed 6000x4000) JPEGs, one per EXIF orientation, made once."""
    folder = tmp_path_factory.mktemp("big")
    displayed = imagegen.displayed_image((6000, 4000))
    return {o: imagegen.make_jpeg(folder / f"o{o}.jpg", orientation=None if o == 1 else o,
                                  quality=85, displayed=displayed)
            for o in range(1, 9)}


def test_fit_and_dct_scale():
    assert fit((6000, 4000), 2048) == (2048, 1365)
    assert fit((4000, 6000), 200) == (133, 200)
    assert fit((150, 100), 2048) == (150, 100)
    assert dct_scale((6000, 4000), 2048) == 2
    assert dct_scale((6000, 4000), 1024) == 4
    assert dct_scale((6000, 4000), 750) == 8
    assert dct_scale((6000, 4000), 3000) == 2
    assert dct_scale((6000, 4000), 3001) == 1
    assert dct_scale((6000, 4000), 6000) == 1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_24mp_jpeg_every_orientation(big_jpegs, tmp_path, orientation):
    thumb, preview = outputs(tmp_path)
    result = make_derivatives(big_jpegs[orientation], thumb, preview, SETTINGS)
    assert result["source_kind"] == "jpeg"
    assert result["preview_size"] == (2048, 1365)
    assert result["thumb_size"] == (200, 133)
    stored = (4000, 6000) if orientation >= 5 else (6000, 4000)
    assert result["source_size"] == stored
    assert_upright(preview, (2048, 1365))
    assert_upright(thumb, (200, 133))


def test_jpeg_is_decoded_once_at_reduced_scale(big_jpegs, tmp_path, monkeypatch):
    loads = []
    original = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        if self.tile:  # a real decode, not a no-op reload
            loads.append(self.size)
        return original(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    make_derivatives(big_jpegs[6], *outputs(tmp_path), SETTINGS)
    assert loads == [(2000, 3000)]  # the stored 4000x6000 at DCT scale 1/2
    loads.clear()
    settings = ImagingSettings(DerivativeSpec(200, 80), DerivativeSpec(1024, 85))
    make_derivatives(big_jpegs[1], *outputs(tmp_path), settings)
    assert loads == [(1500, 1000)]  # 1/4: Image.thumbnail's own draft would be 1/2 or 1


def test_preview_as_large_as_source_decodes_full_size(big_jpegs, tmp_path):
    settings = ImagingSettings(DerivativeSpec(200, 80), DerivativeSpec(6000, 85))
    result = make_derivatives(big_jpegs[8], *outputs(tmp_path), settings)
    assert result["preview_size"] == (6000, 4000)
    assert_upright(outputs(tmp_path)[1], (6000, 4000))


def test_never_upscales(tmp_path):
    src = imagegen.make_jpeg(tmp_path / "small.jpg", size=(150, 100))
    thumb, preview = outputs(tmp_path)
    result = make_derivatives(src, thumb, preview, SETTINGS)
    assert result["preview_size"] == result["thumb_size"] == (150, 100)
    assert_upright(preview, (150, 100))
    assert_upright(thumb, (150, 100))


def test_small_portrait_with_orientation_keeps_aspect(tmp_path):
    src = imagegen.make_jpeg(tmp_path / "p.jpg", size=(300, 450), orientation=6)
    result = make_derivatives(src, *outputs(tmp_path), SMALL)
    assert result["preview_size"] == (107, 160)
    assert result["thumb_size"] == (43, 64)
    assert_upright(outputs(tmp_path)[1], (107, 160))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_png_alpha_is_flattened_on_white(tmp_path, mode):
    src = imagegen.make_png_alpha(tmp_path / "a.png", size=(320, 200), mode=mode)
    thumb, preview = outputs(tmp_path)
    make_derivatives(src, thumb, preview, SMALL)
    with Image.open(preview) as im:
        assert im.size == (160, 100)
        assert im.mode == ("L" if mode == "LA" else "RGB")
        center = im.convert("RGB").getpixel((80, 50))
        assert min(center) > 240, center  # transparent -> white
    if mode != "LA":
        assert_upright(preview)


@pytest.mark.parametrize("orientation", [None, 3, 6, 8])
def test_tiff_16bit_rgb_oriented_once(tmp_path, orientation):
    src = imagegen.make_tiff16(tmp_path / "a.tif", size=(320, 200), orientation=orientation)
    result = make_derivatives(src, *outputs(tmp_path), SMALL)
    assert result["source_kind"] == "tiff"
    assert_upright(outputs(tmp_path)[1], (160, 100))


@pytest.mark.parametrize("orientation", [None, 6])
def test_tiff_16bit_gray(tmp_path, orientation):
    src = imagegen.make_tiff16(tmp_path / "g.tif", size=(320, 200), mode="I;16",
                               orientation=orientation)
    make_derivatives(src, *outputs(tmp_path), SMALL)
    with Image.open(outputs(tmp_path)[1]) as im:
        assert im.size == (160, 100) and im.mode == "L"
        # red marker (L ~83) top-left, brighter green marker (L ~129) top-right, and
        # a 16-bit range scaled down rather than clipped to white
        left, right = im.getpixel((3, 3)), im.getpixel((156, 3))
        assert 60 < left < 110 and 110 < right < 150, (left, right)


def test_cmyk_jpeg(tmp_path):
    src = imagegen.make_cmyk_jpeg(tmp_path / "c.jpg", size=(320, 200))
    make_derivatives(src, *outputs(tmp_path), SMALL)
    with Image.open(outputs(tmp_path)[1]) as im:
        assert im.mode == "RGB"
    assert_upright(outputs(tmp_path)[1], (160, 100))


def test_icc_profile_is_kept(tmp_path):
    src = imagegen.make_jpeg(tmp_path / "icc.jpg", size=(320, 200), icc=True)
    thumb, preview = outputs(tmp_path)
    make_derivatives(src, thumb, preview, SMALL)
    for path in (thumb, preview):
        with Image.open(path) as im:
            assert im.info.get("icc_profile") == imagegen.srgb_icc()


def test_webp_output(tmp_path):
    src = imagegen.make_jpeg(tmp_path / "w.jpg", size=(320, 200), orientation=3)
    settings = ImagingSettings(DerivativeSpec(64, 80), DerivativeSpec(160, 85), format="webp")
    thumb, preview = tmp_path / "t.webp", tmp_path / "p.webp"
    make_derivatives(src, thumb, preview, settings)
    with Image.open(preview) as im:
        assert im.format == "WEBP"
    assert_upright(preview, (160, 100))


def test_truncated_jpeg_is_permanent(tmp_path):
    src = imagegen.make_truncated_jpeg(tmp_path / "t.jpg", size=(800, 600))
    out = tmp_path / "out"
    out.mkdir()
    thumb, preview = outputs(out)
    with pytest.raises(ImagingError, match="truncated") as err:
        make_derivatives(src, thumb, preview, SMALL)
    assert err.value.permanent is True
    assert os.listdir(out) == []  # nothing partial left behind


def test_bomb_is_refused_before_decoding(tmp_path):
    src = imagegen.make_bomb_png(tmp_path / "bomb.png", size=(100_000, 100_000))
    with pytest.raises(ImagingError, match="over the limit") as err:
        make_derivatives(src, *outputs(tmp_path), SMALL)
    assert err.value.permanent is True
    # the limit is the settings', not Pillow's process-wide one
    assert Image.MAX_IMAGE_PIXELS == 89_478_485
    tight = ImagingSettings(DerivativeSpec(64, 80), DerivativeSpec(160, 85), max_pixels=1000)
    small = imagegen.make_jpeg(tmp_path / "s.jpg", size=(40, 30))
    with pytest.raises(ImagingError) as err:
        make_derivatives(small, *outputs(tmp_path), tight)
    assert err.value.permanent is True


def test_vanished_file_is_not_permanent(tmp_path):
    with pytest.raises(ImagingError) as err:
        make_derivatives(tmp_path / "gone.jpg", *outputs(tmp_path), SMALL)
    assert err.value.permanent is False
    with pytest.raises(ImagingError) as err:
        make_derivatives(tmp_path / "gone.nef", *outputs(tmp_path), SMALL)
    assert err.value.permanent is False


def test_not_an_image_is_permanent(tmp_path):
    fake = tmp_path / "x.jpg"
    fake.write_text("not a photo")
    with pytest.raises(ImagingError) as err:
        make_derivatives(fake, *outputs(tmp_path), SMALL)
    assert err.value.permanent is True
    corrupt = tmp_path / "c.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(2000))
    with pytest.raises(ImagingError) as err:
        make_derivatives(corrupt, *outputs(tmp_path), SMALL)
    assert err.value.permanent is True


@pytest.mark.parametrize("orientation", [None, 6, 8, 3])
def test_dng_embedded_preview(tmp_path, orientation):
    src = imagegen.make_dng(tmp_path / "a.dng", size=(600, 400), with_preview=True,
                            orientation=orientation)
    result = make_derivatives(src, *outputs(tmp_path), SMALL)
    assert result["source_kind"] == "raw-embedded"
    assert_upright(outputs(tmp_path)[1], (160, 107))


@pytest.mark.parametrize("orientation", [None, 6, 8])
def test_dng_without_preview_is_demosaiced(tmp_path, orientation):
    src = imagegen.make_dng(tmp_path / "a.dng", size=(600, 400), orientation=orientation)
    result = make_derivatives(src, *outputs(tmp_path), SMALL)
    assert result["source_kind"] == "raw-demosaic"
    assert_upright(outputs(tmp_path)[1], (160, 107))


def test_dng_with_too_small_preview_is_demosaiced(tmp_path):
    src = imagegen.make_dng(tmp_path / "a.dng", size=(600, 400), with_preview=True,
                            preview_size=(120, 80))
    result = make_derivatives(src, *outputs(tmp_path), SMALL)
    assert result["source_kind"] == "raw-demosaic"
    assert_upright(outputs(tmp_path)[1], (160, 107))


def test_dng_small_raw_uses_full_size_preview(tmp_path):
    # a preview as big as the raw is enough even below preview max_dim
    src = imagegen.make_dng(tmp_path / "a.dng", size=(120, 80), with_preview=True)
    result = make_derivatives(src, *outputs(tmp_path), SMALL)
    assert result["source_kind"] == "raw-embedded"
    assert result["preview_size"] == (120, 80)


def test_outputs_replace_existing_files_atomically(tmp_path):
    src = imagegen.make_jpeg(tmp_path / "a.jpg", size=(320, 200))
    thumb, preview = outputs(tmp_path)
    thumb.write_bytes(b"old")
    make_derivatives(src, thumb, preview, SMALL)
    assert thumb.read_bytes()[:2] == b"\xff\xd8"
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert oct(thumb.stat().st_mode & 0o777) == "0o644"


def test_settings_are_validated():
    with pytest.raises(ValueError):
        ImagingSettings(DerivativeSpec(200, 80), DerivativeSpec(2048, 85), format="gif")
    with pytest.raises(ValueError):
        ImagingSettings(DerivativeSpec(4000, 80), DerivativeSpec(2048, 85))
    with pytest.raises(ValueError):
        DerivativeSpec(0, 80)
