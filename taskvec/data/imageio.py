"""Reading user images safely: type checks, pixel-count and aspect-ratio bounds, explicit conversion
of unusual modes (16-bit, alpha, animation, EXIF rotation, CMYK and other colour spaces) with a note, and
the paper's width-224 resize.

The bounds are checked on the header, before any pixel is decoded or resized: a 161-byte PNG of
1x20000 pixels would otherwise become 224x4,480,000 pixels at width 224.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from taskvec.errors import ImageError

PAPER_WIDTH = 224
MAX_PIXELS = 40_000_000  # refuse decompression bombs and absurd uploads
MAX_ASPECT = 10.0  # longest side / shortest side; flags are at most ~2.5 (Qatar 28:11)
NOTE_KEY = "taskvec_note"  # Image.info key carrying what load_image converted, for the UI to say so


def check_size(width: int, height: int, name: str = "The image", max_pixels: int = MAX_PIXELS,
               max_aspect: float = MAX_ASPECT) -> None:
    """Refuse an image whose pixel count or aspect ratio is out of bounds (from its header alone)."""
    if width < 1 or height < 1:
        raise ImageError(f"{name} is {width}x{height} pixels: an image needs at least one pixel each way.")
    if width * height > max_pixels:
        raise ImageError(f"{name} is {width}x{height} pixels, over the limit of {max_pixels:,}; "
                         "downscale it before uploading.")
    aspect = max(width, height) / min(width, height)
    if aspect > max_aspect:
        raise ImageError(f"{name} is {width}x{height} pixels, an aspect ratio of {aspect:.0f}:1; images up to "
                         f"{max_aspect:g}:1 are taken (resizing to width {PAPER_WIDTH} would make it huge). "
                         "Crop it closer to a square.")


def to_rgb(im: Image.Image) -> tuple[Image.Image, str]:
    """``im`` as 8-bit RGB, and a note saying what was converted ('' for plain RGB/L/P images).

    16-bit and 32-bit images are scaled to 8 bits (not clipped); transparency is composited over
    white; an animation keeps its first frame; a photo is turned upright by its EXIF orientation; CMYK
    and other colour spaces are converted to RGB. A palette image without transparency converts exactly
    (no note).
    """
    notes = []
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
        notes.append(f"animated image ({im.n_frames} frames): used the first frame")
    if im.getexif().get(0x0112, 1) not in (0, 1):  # EXIF Orientation: the camera held sideways or upside down
        im = ImageOps.exif_transpose(im)
        notes.append("turned upright as its EXIF orientation says")
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        import numpy as np

        a = np.asarray(im.convert("I") if mode.startswith("I;16") else im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else a * 0
        im = Image.fromarray(a.astype(np.uint8), "L")
        notes.append(f"{'16' if mode.startswith('I;16') else '32'}-bit image: scaled to 8 bits")
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            notes.append("transparent pixels: composited over white")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notes.append(f"{im.mode} colours: converted to RGB")
    rgb = im.convert("RGB")
    return rgb, "; ".join(notes)


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS, max_aspect: float = MAX_ASPECT) -> Image.Image:
    """Open an image file as RGB; a clear ImageError for a missing file, a non-image, a huge or extreme one.

    What was converted (16-bit, alpha, animation) is in ``image.info["taskvec_note"]``.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"Image file {path.name!r} does not exist; check the path.")
    try:
        with Image.open(path) as im:
            check_size(im.width, im.height, path.name, max_pixels, max_aspect)
            rgb, note = to_rgb(im)
    except ImageError:
        raise
    except Image.DecompressionBombError:  # Pillow's own bound, hit before ours could read the size
        raise ImageError(f"{path.name} has far more pixels than the limit of {max_pixels:,}; downscale it "
                         "before uploading.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"{path.name} is not a readable image ({type(e).__name__}); upload a PNG or JPEG.") from None
    if note:
        rgb.info[NOTE_KEY] = note
    return rgb


def resize_width(image: Image.Image, width: int | None = PAPER_WIDTH) -> Image.Image:
    """Resize to ``width`` keeping the aspect ratio (the paper resized every image to width 224).

    Refuses (ImageError) an image whose aspect ratio is beyond ``MAX_ASPECT`` before resizing it.
    """
    if width is None or image.width == width:
        return image
    check_size(image.width, image.height, "The image", max_pixels=max(MAX_PIXELS, image.width * image.height))
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.BICUBIC)
