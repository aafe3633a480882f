"""Drawn flags: proportions, dominant colours, the written examples; loading user images."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from taskvec.data import tasks as datasets
from taskvec.data.flag_table import FLAG_TABLE
from taskvec.data.images import FLAGS_DRAWN, entity_image, flag_image
from taskvec.data.imageio import load_image
from taskvec.data.resources import assets_dir, flags_dir
from taskvec.errors import ImageError
from taskvec.testing import color_image

# Official width:height of a handful of flags (from their flag laws).
RATIOS = {"France": 3 / 2, "Germany": 5 / 3, "Japan": 3 / 2, "Switzerland": 1.0, "Denmark": 37 / 28,
          "Bangladesh": 5 / 3, "Sweden": 16 / 10, "Belgium": 15 / 13, "United States": 19 / 10, "Qatar": 28 / 11,
          "Niger": 7 / 6, "Nigeria": 2.0}


def colour(px) -> str:
    """A coarse colour name of an RGB pixel."""
    r, g, b = (int(v) for v in px)
    if min(r, g, b) > 200:
        return "white"
    if max(r, g, b) < 60:
        return "black"
    if r > 150 and g > 150 and b < 110:
        return "yellow"
    if r > 140 and g < 90 and b < 100:
        return "red"
    if g > r + 30 and g > b:
        return "green"
    if b > r + 40 and b >= g:
        return "blue"
    return "other"


def fraction(img: Image.Image, name: str) -> float:
    a = np.asarray(img).reshape(-1, 3)
    return float(np.mean([colour(px) == name for px in a[:: 7]]))


def at(img: Image.Image, fx: float, fy: float) -> str:
    return colour(img.getpixel((min(img.width - 1, int(fx * img.width)), min(img.height - 1, int(fy * img.height)))))


def test_enough_flags_all_from_the_dataset():
    countries = {it.input for it in datasets.load_task("country-capital").items}
    assert len(FLAGS_DRAWN) >= 40
    assert set(FLAGS_DRAWN) <= countries
    assert list(FLAGS_DRAWN) == sorted(FLAG_TABLE)


@pytest.mark.parametrize("country", sorted(RATIOS))
def test_flag_aspect_ratio(country):
    img = flag_image(country, 224)
    assert img.size == (224, round(224 / RATIOS[country]))
    assert entity_image("country", country).size == img.size


def test_every_flag_renders_at_its_ratio():
    for country in FLAGS_DRAWN:
        img = entity_image("country", country)
        assert img.mode == "RGB" and img.size == (224, round(224 / FLAG_TABLE[country].ratio)), country


def test_tricolour_stripes():
    fr = flag_image("France")
    assert [at(fr, x, 0.5) for x in (1 / 6, 1 / 2, 5 / 6)] == ["blue", "white", "red"]
    de = flag_image("Germany")
    assert [at(de, 0.5, y) for y in (1 / 6, 1 / 2, 5 / 6)] == ["black", "red", "yellow"]
    for name, share in (("black", 1 / 3), ("red", 1 / 3), ("yellow", 1 / 3)):
        assert fraction(de, name) == pytest.approx(share, abs=0.03)


def test_discs():
    jp = flag_image("Japan")
    assert at(jp, 0.5, 0.5) == "red" and at(jp, 0.05, 0.05) == "white"
    assert fraction(jp, "red") == pytest.approx(math.pi * 0.3 ** 2 / 1.5, abs=0.02)  # diameter 3/5 of the height
    bd = flag_image("Bangladesh")
    assert at(bd, 0.45, 0.5) == "red" and at(bd, 0.9, 0.5) == "green"
    assert fraction(bd, "red") == pytest.approx(math.pi * (1 / 3) ** 2 / (5 / 3), abs=0.02)  # radius L/5


def test_crosses():
    ch = flag_image("Switzerland")
    assert at(ch, 0.5, 0.5) == "white" and at(ch, 0.1, 0.1) == "red"
    assert fraction(ch, "white") == pytest.approx((2 * 20 * 6 - 6 * 6) / 32 ** 2, abs=0.02)
    dk = flag_image("Denmark")
    assert at(dk, 14 / 37, 0.5) == "white" and at(dk, 0.8, 0.2) == "red"
    assert fraction(dk, "white") == pytest.approx((4 * 28 + 4 * 37 - 16) / (28 * 37), abs=0.02)
    se = flag_image("Sweden")
    assert at(se, 6 / 16, 0.5) == "yellow" and at(se, 0.8, 0.2) == "blue"


def test_triangles_and_stars():
    cz = flag_image("Czech Republic")
    assert at(cz, 0.1, 0.5) == "blue" and at(cz, 0.8, 0.2) == "white" and at(cz, 0.8, 0.8) == "red"
    us = flag_image("United States")
    assert at(us, 0.9, 0.02) == "red" and at(us, 0.9, 0.98) == "red"
    canton = us.crop((0, 0, round(0.4 * us.width), round(7 / 13 * us.height)))
    assert fraction(canton, "white") > 0.1  # 50 stars
    vn = flag_image("Vietnam")
    assert at(vn, 0.5, 0.5) == "yellow" and at(vn, 0.05, 0.05) == "red"


def test_examples_and_list_match_the_drawn_flags():
    folder = flags_dir()
    written = sorted(p.stem for p in folder.glob("*.png"))
    assert written == sorted(FLAGS_DRAWN)
    with Image.open(folder / "Japan.png") as im:
        assert im.size == flag_image("Japan").size
    listed = (assets_dir() / "images" / "FLAGS.md").read_text(encoding="utf-8")
    assert all(f"| {c} |" in listed for c in FLAGS_DRAWN)


def test_not_an_image_and_huge_images(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is text")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(bad)
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    big = tmp_path / "big.png"
    color_image(0, (300, 200)).save(big)
    with pytest.raises(ImageError, match="over the limit"):
        load_image(big, max_pixels=10_000)
    assert load_image(big).size == (300, 200)
