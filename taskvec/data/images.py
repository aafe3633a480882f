"""The project's own images of entities: national flags and procedural pictures.

``entity_image(domain, name, size)`` is deterministic. Countries whose flag is drawn
(``FLAGS_DRAWN``) get their flag from its real geometry (``taskvec.data.flag_table``); other
countries, animals and foods get a procedural picture seeded by a SHA-256 of the name, so
that every entity has a distinct, recognisable image. Foods use their real colour
(from assets/tasks/food-color.json) as the dominant colour.

``python -m taskvec.data.images --write-examples`` writes examples/flags/<Country>.png and the
list of drawn flags, assets/images/FLAGS.md.
"""

from __future__ import annotations

import argparse
import colorsys
import hashlib
import json
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw

from taskvec.errors import TaskvecDataError
from taskvec.data.flag_table import FLAG_TABLE
from taskvec.data.flags import render_flag
from taskvec.data.resources import assets_dir, flags_dir

DEFAULT_SIZE = (224, 149)
DOMAINS = ("country", "animal", "food")
FLAGS_DRAWN = tuple(sorted(FLAG_TABLE))

# The food-color task's colour words as RGB.
COLOR_RGB = {
    "red": (200, 30, 40), "yellow": (245, 208, 40), "orange": (240, 135, 30), "green": (60, 150, 55),
    "purple": (110, 45, 130), "blue": (50, 80, 185), "pink": (240, 140, 175), "brown": (120, 74, 40),
    "white": (244, 242, 236), "black": (28, 28, 30),
}


def entity_image(domain: str, name: str, size: tuple = DEFAULT_SIZE, *, exact_size: bool = False) -> Image.Image:
    """An RGB picture of entity ``name`` of ``domain`` ("country", "animal", "food").

    ``size`` is (width, height), or a width alone (height 2/3 of it). A drawn flag keeps its official proportions: its width is
    ``size[0]`` and its height follows the flag (as the paper resized images to width 224),
    unless ``exact_size`` is set, which pads it onto a ``size`` canvas.
    """
    if domain not in DOMAINS:
        raise TaskvecDataError(f"Unknown domain {domain!r}; expected one of {DOMAINS}.")
    if not isinstance(name, str) or not name.strip():
        raise TaskvecDataError(f"Entity name must be a non-empty string, got {name!r}.")
    w, h = _check_size(size)
    if domain == "country" and name in FLAG_TABLE:
        flag = _flag(name, w)
        return _pad(flag, (w, h)) if exact_size and flag.size != (w, h) else flag.copy()
    rnd = _Rand(f"{domain}:{name}")
    if domain == "food":
        return _food(rnd, _food_colors().get(name), (w, h))
    if domain == "animal":
        return _animal(rnd, (w, h))
    return _pseudo_flag(rnd, (w, h))


def flag_image(country: str, width: int = 224) -> Image.Image:
    """The drawn flag of ``country`` at ``width`` pixels (height from its proportions)."""
    if country not in FLAG_TABLE:
        raise TaskvecDataError(f"No drawn flag for {country!r}; drawn flags: {', '.join(FLAGS_DRAWN)}.")
    return _flag(country, width).copy()


@lru_cache(maxsize=512)
def _flag(country: str, width: int) -> Image.Image:
    return render_flag(FLAG_TABLE[country], width)


def _check_size(size) -> tuple:
    if isinstance(size, int) and not isinstance(size, bool):  # a width alone: height 2/3 of it
        size = (size, max(8, round(size * 2 / 3)))
    ok = isinstance(size, (tuple, list)) and len(size) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) and 8 <= v <= 4096 for v in size)
    if not ok:
        raise TaskvecDataError(f"size must be a width or (width, height) in pixels, each 8..4096, got {size!r}.")
    return int(size[0]), int(size[1])


def _pad(img: Image.Image, size: tuple) -> Image.Image:
    w, h = size
    scale = min(w / img.width, h / img.height)
    inner = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BICUBIC)
    canvas = Image.new("RGB", size, (128, 128, 128))
    canvas.paste(inner, ((w - inner.width) // 2, (h - inner.height) // 2))
    return canvas


@lru_cache(maxsize=1)
def _food_colors() -> dict:
    path = assets_dir() / "tasks" / "food-color.json"
    try:
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
        return {it["input"]: it["answer"] for it in items}
    except (OSError, ValueError, KeyError, TypeError):
        return {}  # no colour table: foods fall back to hashed colours


# ------------------------------------------------------------------ procedural pictures


class _Rand:
    """Deterministic numbers from SHA-256(key), independent of Python's hash seed."""

    def __init__(self, key: str):
        self.key, self.block, self.pos, self.counter = key, b"", 0, 0

    def byte(self) -> int:
        if self.pos >= len(self.block):
            self.block = hashlib.sha256(f"{self.key}#{self.counter}".encode("utf-8")).digest()
            self.counter, self.pos = self.counter + 1, 0
        self.pos += 1
        return self.block[self.pos - 1]

    def unit(self) -> float:
        return (self.byte() * 256 + self.byte()) / 65535.0

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.unit()

    def choice(self, seq):
        return seq[self.byte() % len(seq)]

    def color(self, s: tuple = (0.45, 0.9), v: tuple = (0.45, 0.95)) -> tuple:
        r, g, b = colorsys.hsv_to_rgb(self.unit(), self.uniform(*s), self.uniform(*v))
        return round(r * 255), round(g * 255), round(b * 255)


def _mix(c1: tuple, c2: tuple, t: float) -> tuple:
    return tuple(round(a + (b - a) * t) for a, b in zip(c1, c2))


def _pseudo_flag(rnd: _Rand, size: tuple) -> Image.Image:
    """A made-up flag (country without a drawn flag): stripes plus an emblem."""
    w, h = size
    img = Image.new("RGB", size, rnd.color())
    d = ImageDraw.Draw(img)
    n = 2 + rnd.byte() % 3
    vertical = rnd.byte() % 2 == 0
    cols = [rnd.color() for _ in range(n)]
    for k, c in enumerate(cols):
        if vertical:
            d.rectangle([k * w // n, 0, (k + 1) * w // n, h], fill=c)
        else:
            d.rectangle([0, k * h // n, w, (k + 1) * h // n], fill=c)
    r = h * rnd.uniform(0.15, 0.3)
    cx, cy = rnd.choice([w / 2, w / 3, w / 4]), h / 2
    shape = rnd.byte() % 3
    emblem = rnd.color()
    if shape == 0:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=emblem)
    elif shape == 1:
        d.polygon([(0, 0), (w * rnd.uniform(0.25, 0.45), h / 2), (0, h)], fill=emblem)
    else:
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=emblem)
    return img


def _animal(rnd: _Rand, size: tuple) -> Image.Image:
    """A stylised animal: sky and ground, a body, a head with ears, a coat pattern."""
    w, h = size
    sky = rnd.color(s=(0.15, 0.45), v=(0.8, 1.0))
    img = Image.new("RGB", size, sky)
    d = ImageDraw.Draw(img)
    ground_y = h * rnd.uniform(0.68, 0.82)
    d.rectangle([0, ground_y, w, h], fill=rnd.color(s=(0.3, 0.7), v=(0.35, 0.7)))
    fur = rnd.color(s=(0.2, 0.8), v=(0.25, 0.9))
    mark = rnd.color(s=(0.3, 1.0), v=(0.05, 0.6))
    bw, bh = w * rnd.uniform(0.32, 0.5), h * rnd.uniform(0.25, 0.4)
    legs = rnd.byte() % 3  # 0: none (lying or swimming), 1 or 2 pairs of legs
    bx, by = w * rnd.uniform(0.3, 0.45), ground_y - bh * (0.75 if legs else 0.4)
    body = [bx - bw / 2, by - bh / 2, bx + bw / 2, by + bh / 2]
    leg_h = ground_y - by
    for k in range(2 * legs):
        lx = bx - bw * 0.35 + k * bw * 0.7 / max(1, 2 * legs - 1)
        d.rectangle([lx - bw * 0.04, by, lx + bw * 0.04, by + leg_h], fill=_mix(fur, (0, 0, 0), 0.25))
    d.ellipse(body, fill=fur)
    pattern = rnd.byte() % 4  # plain, spots, stripes, belly patch
    if pattern == 1:
        for _ in range(5 + rnd.byte() % 6):
            sx, sy = rnd.uniform(body[0] + bw * 0.15, body[2] - bw * 0.15), rnd.uniform(body[1] + bh * 0.2, body[3] - bh * 0.2)
            sr = bh * rnd.uniform(0.06, 0.14)
            d.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=mark)
    elif pattern == 2:
        for k in range(3 + rnd.byte() % 4):
            sx = body[0] + bw * (0.2 + 0.6 * k / 6)
            d.line([sx, body[1] + bh * 0.1, sx + bw * 0.05, body[3] - bh * 0.1], fill=mark, width=max(2, w // 60))
    elif pattern == 3:
        d.ellipse([bx - bw * 0.3, by, bx + bw * 0.3, body[3]], fill=_mix(fur, (255, 255, 255), 0.6))
    hr = bh * rnd.uniform(0.35, 0.55)
    hx, hy = body[2] + hr * 0.4, max(body[1] + hr * rnd.uniform(-0.6, 0.4), hr * 1.6)
    ears = rnd.byte() % 3  # pointed, round, long
    for side in (-1, 1):
        ex = hx + side * hr * 0.55
        if ears == 0:
            d.polygon([(ex - hr * 0.3, hy - hr * 0.6), (ex + hr * 0.3, hy - hr * 0.6), (ex, hy - hr * 1.5)], fill=fur)
        elif ears == 1:
            d.ellipse([ex - hr * 0.35, hy - hr * 1.2, ex + hr * 0.35, hy - hr * 0.5], fill=fur)
        else:
            d.ellipse([ex - hr * 0.18, hy - hr * 2.0, ex + hr * 0.18, hy - hr * 0.4], fill=fur)
    d.ellipse([hx - hr, hy - hr, hx + hr, hy + hr], fill=fur)
    er = max(1.5, hr * 0.13)
    d.ellipse([hx + hr * 0.25 - er, hy - hr * 0.2 - er, hx + hr * 0.25 + er, hy - hr * 0.2 + er], fill=(15, 15, 15))
    d.ellipse([hx + hr * 0.75 - er, hy + hr * 0.1 - er, hx + hr * 0.75 + er, hy + hr * 0.1 + er], fill=mark)
    tail = rnd.byte() % 3
    if tail:
        tx, ty = body[0], by
        d.line([tx, ty, tx - bw * 0.25, ty - bh * (0.6 if tail == 1 else -0.2)], fill=fur, width=max(2, w // 45))
    return img


def _food(rnd: _Rand, color_word: str | None, size: tuple) -> Image.Image:
    """A food on a plate: the dominant shape in the food's real colour, with highlights."""
    w, h = size
    main = COLOR_RGB.get(color_word) if color_word else None
    main = main or rnd.color()
    main = _mix(main, rnd.color(), 0.12)  # same colour word, slightly different tones
    table = rnd.color(s=(0.1, 0.35), v=(0.55, 0.85))
    img = Image.new("RGB", size, table)
    d = ImageDraw.Draw(img)
    plate = (250, 250, 246) if color_word != "white" else (70, 80, 110)
    d.ellipse([w * 0.12, h * 0.12, w * 0.88, h * 0.95], fill=plate)
    cx, cy = w * rnd.uniform(0.42, 0.58), h * rnd.uniform(0.48, 0.58)
    shape = rnd.byte() % 5  # round, pieces, long, wedge, pile
    r = h * rnd.uniform(0.22, 0.32)
    dark = _mix(main, (0, 0, 0), 0.35)
    if shape == 0:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=main)
    elif shape == 1:
        for _ in range(4 + rnd.byte() % 5):
            px, py, pr = cx + rnd.uniform(-r, r), cy + rnd.uniform(-r * 0.6, r * 0.6), r * rnd.uniform(0.3, 0.5)
            d.ellipse([px - pr, py - pr, px + pr, py + pr], fill=main, outline=dark)
    elif shape == 2:
        d.rounded_rectangle([cx - r * 1.8, cy - r * 0.45, cx + r * 1.8, cy + r * 0.45], radius=r * 0.4, fill=main)
    elif shape == 3:
        d.pieslice([cx - r * 1.3, cy - r * 1.1, cx + r * 1.3, cy + r * 1.5], 200, 340, fill=main)
    else:
        d.polygon([(cx - r * 1.4, cy + r * 0.7), (cx, cy - r), (cx + r * 1.4, cy + r * 0.7)], fill=main)
    for _ in range(2 + rnd.byte() % 6):  # seeds, flecks
        fx, fy, fr = cx + rnd.uniform(-r * 0.8, r * 0.8), cy + rnd.uniform(-r * 0.4, r * 0.4), max(1.0, r * 0.07)
        d.ellipse([fx - fr, fy - fr, fx + fr, fy + fr], fill=_mix(main, (255, 255, 255), 0.5))
    if rnd.byte() % 2:  # a leaf or stem
        lx, ly = cx + rnd.uniform(-r * 0.3, r * 0.3), cy - r
        d.ellipse([lx, ly - r * 0.25, lx + r * 0.6, ly + r * 0.1], fill=(50, 120, 40) if color_word != "green" else (110, 70, 30))
    return img


# ------------------------------------------------------------------ examples


def write_examples(out_dir: str | Path | None = None, width: int = 224) -> list:
    """Write every drawn flag to ``out_dir/<Country>.png`` (default examples/flags)."""
    out = Path(out_dir) if out_dir is not None else flags_dir()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for country in FLAGS_DRAWN:
        path = out / f"{country}.png"
        flag_image(country, width).save(path, optimize=True)
        written.append(path)
    return written


def flags_markdown() -> str:
    """The table of drawn flags recorded in assets/images/FLAGS.md."""
    lines = ["# Drawn national flags", "",
             "Written by `python -m taskvec.data.images --write-examples` from `taskvec/data/flag_table.py`; "
             "PNGs (224 px wide) in `examples/flags/`.",
             "Each flag is drawn from its geometry (proportions, stripes, crosses, discs, triangles, stars).",
             "Coats of arms and detailed emblems are never drawn; a note says where an emblem's size or",
             "position is approximate. Other countries get a procedural picture (`entity_image`).", "",
             f"{len(FLAGS_DRAWN)} flags.", "", "| Country | Width:height | Note |", "|---|---|---|"]
    for country in FLAGS_DRAWN:
        flag = FLAG_TABLE[country]
        lines.append(f"| {country} | {flag.ratio:.4g} | {flag.note} |")
    return "\n".join(lines) + "\n"


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m taskvec.data.images", description=__doc__.splitlines()[0])
    parser.add_argument("--write-examples", action="store_true", help="write examples/flags/<Country>.png")
    parser.add_argument("--out", default=None, help="output folder (default examples/flags)")
    args = parser.parse_args(argv)
    if not args.write_examples:
        parser.print_help()
        return
    paths = write_examples(args.out)
    md = assets_dir() / "images" / "FLAGS.md"
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(flags_markdown(), encoding="utf-8")
    print(f"wrote {len(paths)} flags to {paths[0].parent if paths else args.out} and {md}")


if __name__ == "__main__":
    main()
