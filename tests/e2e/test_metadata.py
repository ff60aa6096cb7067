"""Photos lose their hidden details in the browser, before they are encrypted: a JPEG with GPS,
camera, author, XMP and comment data (and an EXIF orientation) and a PNG with tEXt, iTXt and
eXIf chunks are attached to a report in real Chromium, the report is filed, pulled and
imported on the workstation, and the extracted files are checked with Pillow: no EXIF, GPS,
XMP, comment or text chunk left, valid images of the same pixel size with the orientation
applied (and the PNG's pixels unchanged). A damaged photo is sent as it is with a clear
warning; a PDF, a video, an audio file and a HEIC image are named as files that may still
identify; a text file gets no note. The notes are translated (Arabic shown right to left)."""

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from .conftest import ROOT, screenshot

pytestmark = pytest.mark.e2e

CLIENT = ROOT / "client_web"
PHONE = {"width": 360, "height": 740}
SECRET_TAGS = ("CANARY-ARTIST", "CANARY-CAMERA", "CANARY-XMP", "CANARY-COMMENT", "CANARY-PNG-AUTHOR", "CANARY-PNG-ITXT", "Quietline Test Cam")
GPS_LATITUDE = (51.0, 30.0, 25.83)  # a place that must not travel with the photo


def catalogue(lang: str) -> dict:
    return json.loads((CLIENT / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def note(lang: str, key: str, name: str) -> str:
    return catalogue(lang)["metadata"][key].replace("{name}", name)


def quadrant_image(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Red top-left quarter, blue elsewhere: big flat blocks survive JPEG and show rotation."""
    image = Image.new(mode, (width, height), (20, 40, 200) if mode == "RGB" else (20, 40, 200, 255))
    image.paste((220, 20, 20) if mode == "RGB" else (220, 20, 20, 255), (0, 0, width // 2, height // 2))
    return image


def tagged_jpeg() -> bytes:
    image = quadrant_image(96, 48)
    exif = Image.Exif()
    exif[0x010F] = "Quietline Test Cam"  # Make
    exif[0x0110] = "CANARY-CAMERA"  # Model
    exif[0x013B] = "CANARY-ARTIST"  # Artist
    exif[0x0112] = 6  # Orientation: turn 90° clockwise to show
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", GPS_LATITUDE
    gps[3], gps[4] = "E", (0.0, 7.0, 39.6)
    out = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' \
          b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="CANARY-XMP"/></rdf:RDF></x:xmpmeta>'
    image.save(out, "JPEG", quality=95, exif=exif, xmp=xmp, comment=b"CANARY-COMMENT")
    data = out.getvalue()
    # The test's own input really carries what must be removed.
    with Image.open(io.BytesIO(data)) as check:
        assert tuple(map(float, check.getexif().get_ifd(0x8825)[2])) == GPS_LATITUDE
        assert check.getexif()[0x0112] == 6 and b"CANARY-XMP" in data and b"CANARY-COMMENT" in data
    return data


def tagged_png() -> tuple[bytes, Image.Image]:
    image = quadrant_image(40, 30, "RGBA")
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "CANARY-PNG-AUTHOR")
    info.add_itxt("Comment", "CANARY-PNG-ITXT")
    exif = Image.Exif()
    exif[0x013B] = "CANARY-ARTIST"
    exif.get_ifd(0x8825)[2] = GPS_LATITUDE
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=exif)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:
        assert check.text.get("Author") == "CANARY-PNG-AUTHOR" and check.getexif().get_ifd(0x8825)
    return data, image


def tagged_webp() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = "CANARY-ARTIST"
    exif.get_ifd(0x8825)[2] = GPS_LATITUDE
    out = io.BytesIO()
    quadrant_image(50, 40).save(out, "WEBP", quality=90, exif=exif, xmp=b"<x:xmpmeta>CANARY-XMP</x:xmpmeta>")
    data = out.getvalue()
    assert b"CANARY-ARTIST" in data and b"CANARY-XMP" in data
    return data


def to_evidence_step(page, stack):
    page.set_viewport_size(PHONE)
    page.goto(stack.base_url + "/")
    page.get_by_role("button", name="Make a new report").click()
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.get_by_label("Country where it happened").select_option("KE")
    for _ in range(6):  # un, what, urgency, who, more, evidence
        page.click("#step-next-button")
    assert page.locator("#step-evidence").is_visible()


def notes(page, selector="#report-files-notes") -> list[tuple[str, str]]:
    page.wait_for_selector(f"{selector}:not([aria-busy])", state="attached")
    return [(li.get_attribute("class"), li.inner_text()) for li in page.locator(f"{selector} li").all()]


def assert_no_metadata(path: Path):
    data = path.read_bytes()
    for tag in SECRET_TAGS:
        assert tag.encode() not in data, f"{path.name} still holds {tag}"
    with Image.open(path) as image:
        image.load()
        assert len(image.getexif()) == 0, f"{path.name}: EXIF left: {dict(image.getexif())}"
        assert "exif" not in image.info and "xmp" not in image.info and "comment" not in image.info, image.info.keys()
        if image.format == "JPEG":
            markers = [marker for marker, _ in image.applist]
            assert "APP1" not in markers and "COM" not in markers, markers  # APP1 holds EXIF and XMP
        if image.format == "PNG":
            assert image.text == {}, image.text
        return image.format, image.size, image.convert("RGB")


def test_photos_are_cleaned_before_encryption_and_other_files_are_named(page, stack, tmp_path):
    jpeg = tagged_jpeg()
    png, png_image = tagged_png()
    broken = b"\xff\xd8\xff\xe0" + b"not really a photo " * 40
    pdf = b"%PDF-1.4\n1 0 obj << /Author (CANARY-PDF-AUTHOR) >> endobj\ntrailer << /Info 1 0 R >>\n%%EOF\n"

    to_evidence_step(page, stack)
    page.set_input_files("#report-files", files=[
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": jpeg},
        {"name": "screen.png", "mimeType": "image/png", "buffer": png},
        {"name": "camera.webp", "mimeType": "image/webp", "buffer": tagged_webp()},
        {"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": broken},
        {"name": "statement.pdf", "mimeType": "application/pdf", "buffer": pdf},
    ])
    shown = notes(page)
    assert shown == [
        ("metadata-cleaned", note("en", "cleaned", "photo.jpg")),
        ("metadata-cleaned", note("en", "cleaned", "screen.png")),
        ("metadata-cleaned", note("en", "cleaned", "camera.webp")),
        ("metadata-warning", note("en", "warn_failed", "broken.jpg")),
        ("metadata-warning", note("en", "warn_document", "statement.pdf")),
    ]
    assert page.inner_text("#report-files-about") == catalogue("en")["metadata"]["about"]
    screenshot(page, "metadata-en-evidence")

    # The notes follow a language switch, right to left in Arabic.
    page.select_option("#language", "ar")
    page.wait_for_selector("html[dir=rtl][lang=ar]", state="attached")
    assert [text for _, text in notes(page)][0] == note("ar", "cleaned", "photo.jpg")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "metadata-ar-evidence")
    page.select_option("#language", "en")
    page.wait_for_selector("html[dir=ltr][lang=en]", state="attached")

    page.click("#step-next-button")  # consent
    page.click("#step-next-button")  # what happens next
    page.click("#report-send")
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    ref = page.inner_text("#receipt-text").split()[-1].lower()

    bundle = tmp_path / "in.qlb"
    stack.cli("sync", "pull", "--out", str(bundle))
    stack.cli("ws", "import", str(bundle))
    extract = tmp_path / "extract"
    stack.cli("ws", "show", ref, "--extract", str(extract))
    files = {p.name: p for p in extract.rglob("*") if p.is_file()}
    assert set(files) == {"photo.jpg", "screen.png", "camera.webp", "broken.jpg", "statement.pdf"}, files

    fmt, size, pixels = assert_no_metadata(files["photo.jpg"])
    assert fmt == "JPEG" and size == (48, 96), "the EXIF orientation must be applied: 96×48 turned upright"
    # Turned 90° clockwise, the red top-left quarter is now at the top right.
    red, blue = pixels.getpixel((40, 10)), pixels.getpixel((8, 80))
    assert red[0] > 150 and red[2] < 100, red
    assert blue[2] > 150 and blue[0] < 100, blue

    fmt, size, pixels = assert_no_metadata(files["screen.png"])
    assert fmt == "PNG" and size == png_image.size
    assert pixels.tobytes() == png_image.convert("RGB").tobytes(), "PNG must be re-encoded losslessly"

    fmt, size, _ = assert_no_metadata(files["camera.webp"])
    assert fmt == "WEBP" and size == (50, 40)

    # What could not be cleaned arrives exactly as chosen: nothing is lost silently.
    assert files["broken.jpg"].read_bytes() == broken
    assert files["statement.pdf"].read_bytes() == pdf
    assert page.recorder.page_errors == []
    assert [e for e in page.recorder.console_errors if "missing translation" in e] == []


def test_which_other_files_may_identify_is_said_in_every_case(page, stack):
    to_evidence_step(page, stack)
    page.set_input_files("#report-files", files=[
        {"name": "IMG_0001.HEIC", "mimeType": "image/heic", "buffer": b"\0\0\0\x18ftypheic"},
        {"name": "clip.mp4", "mimeType": "video/mp4", "buffer": b"\0\0\0\x18ftypmp42"},
        {"name": "call.mp3", "mimeType": "audio/mpeg", "buffer": b"ID3\x03\0\0\0\0\0\0"},
        {"name": "letter.docx", "mimeType": "", "buffer": b"PK\x03\x04"},
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"plain words\n"},
        {"name": "archive.zip", "mimeType": "application/zip", "buffer": b"PK\x05\x06" + b"\0" * 18},
    ])
    assert notes(page) == [
        ("metadata-warning", note("en", "warn_image", "IMG_0001.HEIC")),
        ("metadata-warning", note("en", "warn_video", "clip.mp4")),
        ("metadata-warning", note("en", "warn_audio", "call.mp3")),
        ("metadata-warning", note("en", "warn_document", "letter.docx")),
        ("metadata-warning", note("en", "warn_other", "archive.zip")),
    ]
    # Choosing other files replaces the notes; clearing the choice removes them.
    page.set_input_files("#report-files", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"x"}])
    assert notes(page) == [] and page.locator("#report-files-notes").is_hidden()
    assert page.recorder.page_errors == []
    assert [e for e in page.recorder.console_errors if "missing translation" in e] == []


def test_the_case_view_cleans_photos_added_later(page, stack, tmp_path):
    to_evidence_step(page, stack)
    page.click("#step-next-button")
    page.click("#step-next-button")
    page.click("#report-send")
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    case_key = page.inner_text("#case-key-display").strip()
    ref = page.inner_text("#receipt-text").split()[-1].lower()
    page.click("#key-done")
    page.get_by_role("button", name="I have a case key").click()
    page.get_by_label("Case key").fill(case_key)
    page.get_by_role("button", name="Open").click()
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)
    page.set_input_files("#followup-files", files=[{"name": "later.jpg", "mimeType": "image/jpeg", "buffer": tagged_jpeg()}])
    assert notes(page, "#followup-files-notes") == [("metadata-cleaned", note("en", "cleaned", "later.jpg"))]
    page.click("#followup-form button[type=submit]")
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=60_000)
    assert page.locator("#followup-files-notes").is_hidden(), "notes go with the sent files"

    bundle = tmp_path / "in.qlb"
    stack.cli("sync", "pull", "--out", str(bundle))
    stack.cli("ws", "import", str(bundle))
    extract = tmp_path / "extract"
    stack.cli("ws", "show", ref, "--extract", str(extract))
    [later] = [p for p in extract.rglob("*") if p.is_file()]
    assert later.name == "later.jpg"
    assert assert_no_metadata(later)[:2] == ("JPEG", (48, 96))
