"""National flags drawn from their official geometry with PIL.

A flag is a width/height ratio plus a list of drawing operations in *flag units*: the
height is 1, x runs from 0 (hoist) to ``ratio`` (fly), y from 0 (top) to 1. Circles stay
round whatever the output size. ``render_flag`` draws at 2x and downsamples (smooth edges).
The flags themselves live in ``taskvec.data.flag_table``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageDraw

SUPERSAMPLE = 2


@dataclass(frozen=True)
class Flag:
    ratio: float  # width / height
    ops: tuple  # ("rect", x0, y0, x1, y1, c) | ("poly", pts, c) | ("circle", cx, cy, r, c) | ("star", ...)
    note: str = ""  # what is simplified, if anything


def rgb(hex_color: str) -> tuple:
    h = hex_color.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


# ------------------------------------------------------------------ building blocks


def hbands(ratio: float, colors: list, weights: list | None = None) -> list:
    """Horizontal stripes top to bottom; ``weights`` are relative heights."""
    weights = weights or [1] * len(colors)
    total, y, ops = sum(weights), 0.0, []
    for c, w in zip(colors, weights):
        ops.append(("rect", 0, y, ratio, y + w / total, c))
        y += w / total
    return ops


def vbands(ratio: float, colors: list, weights: list | None = None) -> list:
    """Vertical stripes hoist to fly; ``weights`` are relative widths."""
    weights = weights or [1] * len(colors)
    total, x, ops = sum(weights), 0.0, []
    for c, w in zip(colors, weights):
        ops.append(("rect", x, 0, x + ratio * w / total, 1, c))
        x += ratio * w / total
    return ops


def nordic(length: list, height: list, field: str, cross: str, inner: str | None = None) -> tuple:
    """A Nordic cross from its official unit widths, e.g. Denmark length [12, 4, 21], height
    [12, 4, 12]; with a fimbriated cross (Norway) the lists have five entries."""
    ratio = sum(length) / sum(height)
    unit = 1 / sum(height)
    xs = [sum(length[:k]) * unit for k in range(len(length) + 1)]
    ys = [sum(height[:k]) * unit for k in range(len(height) + 1)]
    ops = [("rect", 0, 0, ratio, 1, field),
           ("rect", xs[1], 0, xs[-2], 1, cross), ("rect", 0, ys[1], ratio, ys[-2], cross)]
    if inner:
        ops += [("rect", xs[2], 0, xs[3], 1, inner), ("rect", 0, ys[2], ratio, ys[3], inner)]
    return ratio, ops


def star(cx: float, cy: float, r: float, color: str, points: int = 5, angle: float = -90.0,
         inner: float | None = None) -> tuple:
    """A regular star: outer radius ``r``, first point at ``angle`` degrees (-90 = up)."""
    if inner is None:  # a regular pentagram's inner/outer radius ratio
        inner = 0.381966 if points == 5 else 0.5
    pts = []
    for k in range(2 * points):
        rad = r if k % 2 == 0 else r * inner
        a = math.radians(angle + 180.0 * k / points)
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    return ("poly", tuple(pts), color)


def circle(cx: float, cy: float, r: float, color: str) -> tuple:
    return ("circle", cx, cy, r, color)


def rect(x0: float, y0: float, x1: float, y1: float, color: str) -> tuple:
    return ("rect", x0, y0, x1, y1, color)


def poly(points, color: str) -> tuple:
    return ("poly", tuple(points), color)


def crescent(cx: float, cy: float, r_out: float, dx: float, r_in: float, color: str,
             angle: float = 0.0, steps: int = 48) -> tuple:
    """A crescent polygon: the disc (cx, cy, r_out) minus the disc of radius ``r_in`` whose
    centre is ``dx`` away in direction ``angle`` (degrees, 0 = towards the fly, -90 = up).
    The opening faces ``angle``. Works on any background (no cut-out disc is painted)."""
    phi = math.radians(angle)
    ux, uy = math.cos(phi), math.sin(phi)
    ox, oy = cx + dx * ux, cy + dx * uy
    a = (r_out ** 2 - r_in ** 2 + dx ** 2) / (2 * dx)  # intersection chord, from the outer centre
    alpha = math.acos(max(-1.0, min(1.0, a / r_out)))
    pts = [(cx + r_out * math.cos(t), cy + r_out * math.sin(t))
           for t in (phi + alpha + (2 * math.pi - 2 * alpha) * k / steps for k in range(steps + 1))]
    start = math.atan2(pts[-1][1] - oy, pts[-1][0] - ox)
    end = math.atan2(pts[0][1] - oy, pts[0][0] - ox)
    span = (end - start) % (2 * math.pi)
    if (phi + math.pi - start) % (2 * math.pi) > span:  # go the other way, through the near side
        span -= 2 * math.pi
    pts += [(ox + r_in * math.cos(start + span * k / steps), oy + r_in * math.sin(start + span * k / steps))
            for k in range(1, steps)]
    return poly(pts, color)


def segment(x0: float, y0: float, x1: float, y1: float, half_width: float, color: str) -> tuple:
    """A straight bar from (x0, y0) to (x1, y1) of half-width ``half_width``."""
    n = math.hypot(x1 - x0, y1 - y0)
    px, py = -(y1 - y0) / n * half_width, (x1 - x0) / n * half_width
    return poly([(x0 + px, y0 + py), (x1 + px, y1 + py), (x1 - px, y1 - py), (x0 - px, y0 - py)], color)


def band(ratio: float, x0: float, y0: float, x1: float, y1: float, half_width: float, color: str) -> tuple:
    """A straight band of half-width ``half_width`` (flag units) along the line (x0,y0)-(x1,y1),
    extended past the edges of the flag."""
    dx, dy = x1 - x0, y1 - y0
    n = math.hypot(dx, dy)
    ux, uy = dx / n, dy / n
    ext = 2 * (ratio + 1)
    ax, ay, bx, by = x0 - ux * ext, y0 - uy * ext, x1 + ux * ext, y1 + uy * ext
    px, py = -uy * half_width, ux * half_width
    return poly([(ax + px, ay + py), (bx + px, by + py), (bx - px, by - py), (ax - px, ay - py)], color)


# ------------------------------------------------------------------ rendering


def render_flag(flag: Flag, width: int = 224) -> Image.Image:
    """The flag as an RGB image ``width`` pixels wide, height from the flag's ratio."""
    height = max(1, round(width / flag.ratio))
    s = SUPERSAMPLE
    scale = height * s  # pixels per flag unit (height = 1)
    sx = width * s / flag.ratio  # keep exact width even when height was rounded
    img = Image.new("RGB", (width * s, height * s), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for op in flag.ops:
        kind, color = op[0], rgb(op[-1])
        if kind == "rect":
            _, x0, y0, x1, y1, _ = op
            draw.rectangle([round(x0 * sx), round(y0 * scale), round(x1 * sx) - 1, round(y1 * scale) - 1], fill=color)
        elif kind == "poly":
            draw.polygon([(x * sx, y * scale) for x, y in op[1]], fill=color)
        elif kind == "circle":
            _, cx, cy, r, _ = op
            draw.ellipse([(cx - r) * sx, (cy - r) * scale, (cx + r) * sx, (cy + r) * scale], fill=color)
        else:
            raise ValueError(f"Unknown flag operation {kind!r}; expected rect, poly or circle.")
    if s == 1:
        return img
    return img.resize((width, height), Image.BOX)
