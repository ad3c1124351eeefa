"""Photos and scans to a PDF that ocrmypdf can read, without trusting the image."""

from __future__ import annotations

import io
import warnings

import img2pdf
from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from coffre.tasks.errors import Rejected

register_heif_opener()

A4 = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))
_LOSSLESS_AS_IS = {"JPEG", "PNG", "TIFF"}
_MIN_TRUSTED_DPI = 150
_IMG2PDF_ERRORS = (
    img2pdf.ImageOpenError,
    img2pdf.AlphaChannelError,
    img2pdf.ExifOrientationError,
    img2pdf.JpegColorspaceError,
    img2pdf.NegativeDimensionError,
    img2pdf.PdfTooLargeError,
    img2pdf.UnsupportedColorspaceError,
    ValueError,
    OSError,
)


def _check_frames(image: Image.Image, max_pixels: int, max_pages: int) -> int:
    """Decode every frame, refusing bombs before decoding and truncated data while decoding."""
    frames = getattr(image, "n_frames", 1)
    if frames > max_pages:
        raise Rejected(
            "too_many_pages", f"This image has {frames} pages; the limit is {max_pages}."
        )
    for index in range(frames):
        image.seek(index)
        width, height = image.size
        if width * height > max_pixels:
            raise Rejected(
                "image_too_large",
                f"This image is {width}×{height} pixels, more than the {max_pixels:,} allowed "
                "(it may be a decompression bomb).",
            )
        image.load()
    image.seek(0)
    return frames


def open_image(data: bytes, max_pixels: int, max_pages: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_frames(image, max_pixels, max_pages)
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise Rejected(
            "image_too_large",
            f"This image has more than the {max_pixels:,} pixels allowed "
            "(it may be a decompression bomb).",
        ) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise Rejected(
            "damaged_image", "This image is damaged or incomplete and cannot be read."
        ) from error
    return image


def _layout(image: Image.Image):  # type: ignore[no-untyped-def,unused-ignore]
    """Keep real scan sizes; fit phone photos (72 DPI or no DPI) onto an A4 page."""
    dpi = image.info.get("dpi", (0, 0))[0] or 0
    width_in = image.size[0] / dpi if dpi else 1e9
    if dpi >= _MIN_TRUSTED_DPI and width_in * 72 <= A4[0] * 1.05:
        return img2pdf.default_layout_fun
    return img2pdf.get_layout_fun(A4, fit=img2pdf.FitMode.into)


def image_to_pdf(data: bytes, max_pixels: int, max_pages: int) -> bytes:
    """One PDF page per image frame; lossless for JPEG/PNG/TIFF, re-encoded otherwise."""
    image = open_image(data, max_pixels, max_pages)
    needs_reencode = image.format not in _LOSSLESS_AS_IS or image.mode in ("RGBA", "LA", "P")
    if image.format == "PNG" and image.mode in ("RGBA", "LA", "P"):
        needs_reencode = True
    if image.format == "TIFF" and image.mode not in ("1", "L", "RGB", "CMYK"):
        needs_reencode = True
    layout = _layout(image)
    try:
        if needs_reencode:
            frames = []
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                frame = ImageOps.exif_transpose(image.convert("RGBA")).convert("RGB")
                buffer = io.BytesIO()
                frame.save(buffer, format="JPEG", quality=92, dpi=image.info.get("dpi", (72, 72)))
                frames.append(buffer.getvalue())
            return img2pdf.convert(frames, layout_fun=layout, rotation=img2pdf.Rotation.ifvalid)
        result = img2pdf.convert(data, layout_fun=layout, rotation=img2pdf.Rotation.ifvalid)
    except _IMG2PDF_ERRORS as error:
        raise Rejected("damaged_image", "This image cannot be converted to PDF.") from error
    assert result is not None
    return result
