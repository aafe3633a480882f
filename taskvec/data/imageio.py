"""Reading user images safely: type checks, a pixel limit, and the paper's width-224 resize."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from taskvec.errors import ImageError

PAPER_WIDTH = 224
MAX_PIXELS = 40_000_000  # refuse decompression bombs and absurd uploads


def load_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image file as RGB; a clear ImageError for a missing file, a non-image, or a huge one."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"Image file {str(path)!r} does not exist; check the path.")
    try:
        with Image.open(path) as im:
            if im.width * im.height > max_pixels:
                raise ImageError(f"{path.name} is {im.width}x{im.height} pixels, over the limit of "
                                 f"{max_pixels:,}; downscale it before uploading.")
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path.name} is not a readable image ({type(e).__name__}); upload a PNG or JPEG.") from None


def resize_width(image: Image.Image, width: int | None = PAPER_WIDTH) -> Image.Image:
    """Resize to ``width`` keeping the aspect ratio (the paper resized every image to width 224)."""
    if width is None or image.width == width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.BICUBIC)
