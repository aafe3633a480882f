"""The flags of the dataset's countries, in flag units (height 1, x from hoist to fly).

Colours are the usual official/reference values; proportions and layouts follow each
country's flag law or its standard construction sheet. ``Flag.note`` says what is
simplified (emblems are left out only where marked).
"""

from __future__ import annotations

import math

from taskvec.data.flags import Flag, band, circle, crescent, hbands, nordic, poly, rect, segment, star, vbands


def _h(ratio, colors, weights=None, extra=(), note=""):
    return Flag(ratio, tuple(hbands(ratio, colors, weights)) + tuple(extra), note)


def _v(ratio, colors, weights=None, extra=(), note=""):
    return Flag(ratio, tuple(vbands(ratio, colors, weights)) + tuple(extra), note)


def _nordic(length, height, field, cross, inner=None):
    ratio, ops = nordic(length, height, field, cross, inner)
    return Flag(ratio, tuple(ops))


def _flag(ratio, *ops, note=""):
    flat = []
    for op in ops:
        flat.extend(op if isinstance(op, list) else [op])
    return Flag(ratio, tuple(flat), note)


WHITE = "#FFFFFF"
BLACK = "#000000"
EQ = math.sqrt(3) / 2  # apex of an equilateral triangle on the hoist (height 1)
APPROX = "emblem size/position approximate"


def _usa():
    ops = hbands(19 / 10, ["#B22234", WHITE] * 6 + ["#B22234"])
    ops.append(rect(0, 0, 0.76, 7 / 13, "#3C3B6E"))
    for row in range(9):  # 9 rows alternating 6 and 5 stars: E = F = 0.054, G = H = 0.063, K = 0.0616
        for col in range(6 if row % 2 == 0 else 5):
            x = 0.063 * (2 * col + 1 + row % 2)
            ops.append(star(x, 0.054 * (row + 1), 0.0616 / 2, WHITE))
    return Flag(19 / 10, tuple(ops))


def _india():
    cx, r = 0.75, 0.154  # chakra about 0.92 of the white band (Flag Code sizes)
    ops = hbands(1.5, ["#FF9933", WHITE, "#138808"]) + [circle(cx, 0.5, r, "#000080"), circle(cx, 0.5, r * 0.87, WHITE)]
    for k in range(24):
        a = 2 * math.pi * k / 24
        ops.append(segment(cx, 0.5, cx + r * 0.9 * math.cos(a), 0.5 + r * 0.9 * math.sin(a), 0.006, "#000080"))
    ops.append(circle(cx, 0.5, r * 0.18, "#000080"))
    return Flag(1.5, tuple(ops))


def _serrated(ratio, field, x_valley, x_tip, points):
    pts = [(0, 0)]
    for k in range(points):
        pts += [(x_valley, k / points), (x_tip, (k + 0.5) / points)]
    pts += [(x_valley, 1), (0, 1)]
    return Flag(ratio, (rect(0, 0, ratio, 1, field), poly(pts, WHITE)), "serration depth approximate")


def _sun_rays(ratio, cx, cy, color, half_width_at_edge):
    """Rays from the centre to the corners and edge midpoints, widening outwards."""
    ops = []
    for tx, ty in ((0, 0), (cx, 0), (ratio, 0), (ratio, cy), (ratio, 1), (cx, 1), (0, 1), (0, cy)):
        dx, dy = tx - cx, ty - cy
        n = math.hypot(dx, dy)
        px, py = -dy / n * half_width_at_edge, dx / n * half_width_at_edge
        ops.append(poly([(cx, cy), (tx + px, ty + py), (tx - px, ty - py)], color))
    return ops


def _bosnia():
    ratio, a = 2.0, 0.52
    ops = [rect(0, 0, ratio, 1, "#002395"), poly([(a, 0), (a + 1, 0), (a + 1, 1)], "#FECB00")]
    for k in range(-1, 8):  # stars along the hypotenuse, the first and last cut by the edges
        t = (k + 0.5) / 7
        ops.append(star(a + t - 0.09, t + 0.09, 0.055, WHITE))
    return Flag(ratio, tuple(ops), "star spacing approximate")


def _georgia():
    ops = [rect(0, 0, 1.5, 1, WHITE), rect(0, 0.4, 1.5, 0.6, "#FF0000"), rect(0.65, 0, 0.85, 1, "#FF0000")]
    for cx, cy in ((0.325, 0.2), (1.175, 0.2), (0.325, 0.8), (1.175, 0.8)):
        ops += [rect(cx - 0.11, cy - 0.025, cx + 0.11, cy + 0.025, "#FF0000"),
                rect(cx - 0.025, cy - 0.11, cx + 0.025, cy + 0.11, "#FF0000")]
    return Flag(1.5, tuple(ops), "the four small crosses drawn plain (not pattee)")


def _singapore():
    ops = hbands(1.5, ["#EF3340", WHITE]) + [crescent(0.3, 0.25, 0.18, 0.06, 0.165, WHITE, angle=0)]
    for k in range(5):
        a = math.radians(-90 + 72 * k)
        ops.append(star(0.43 + 0.085 * math.cos(a), 0.255 + 0.085 * math.sin(a), 0.035, WHITE))
    return Flag(1.5, tuple(ops), APPROX)


def _morocco():
    r, cx, cy = 0.27, 0.75, 0.5
    tips = [(cx + r * math.cos(math.radians(-90 + 72 * k)), cy + r * math.sin(math.radians(-90 + 72 * k)))
            for k in range(5)]
    ops = [rect(0, 0, 1.5, 1, "#C1272D")]
    for k in range(5):
        (x0, y0), (x1, y1) = tips[k], tips[(k + 2) % 5]
        ops.append(segment(x0, y0, x1, y1, 0.022, "#006233"))
    return Flag(1.5, tuple(ops), APPROX)

FLAG_TABLE = {
    # vertical tricolours
    "France": _v(3 / 2, ["#002654", WHITE, "#CE1126"]),
    "Italy": _v(3 / 2, ["#009246", WHITE, "#CE2B37"]),
    "Ireland": _v(2, ["#169B62", WHITE, "#FF883E"]),
    "Belgium": _v(15 / 13, [BLACK, "#FDDA24", "#EF3340"]),
    "Romania": _v(3 / 2, ["#002B7F", "#FCD116", "#CE1126"]),
    "Chad": _v(3 / 2, ["#002664", "#FECB00", "#C60C30"]),
    "Mali": _v(3 / 2, ["#14B53A", "#FCD116", "#CE1126"]),
    "Guinea": _v(3 / 2, ["#CE1126", "#FCD116", "#009460"]),
    "Nigeria": _v(2, ["#008751", WHITE, "#008751"]),
    "Peru": _v(3 / 2, ["#D91023", WHITE, "#D91023"]),
    # horizontal bands
    "Germany": _h(5 / 3, [BLACK, "#DD0000", "#FFCE00"]),
    "Netherlands": _h(3 / 2, ["#AE1C28", WHITE, "#21468B"]),
    "Luxembourg": _h(5 / 3, ["#EA141D", WHITE, "#51ADDA"]),
    "Austria": _h(3 / 2, ["#C8102E", WHITE, "#C8102E"]),
    "Hungary": _h(2, ["#CE2939", WHITE, "#477050"]),
    "Russia": _h(3 / 2, [WHITE, "#0039A6", "#D52B1E"]),
    "Estonia": _h(11 / 7, ["#0072CE", BLACK, WHITE]),
    "Lithuania": _h(5 / 3, ["#FDB913", "#006A44", "#C1272D"]),
    "Latvia": _h(2, ["#9E3039", WHITE, "#9E3039"], [2, 1, 2]),
    "Armenia": _h(2, ["#D90012", "#0033A0", "#F2A800"]),
    "Gabon": _h(4 / 3, ["#009E60", "#FCD116", "#3A75C4"]),
    "Sierra Leone": _h(3 / 2, ["#1EB53A", WHITE, "#0072C6"]),
    "Colombia": _h(3 / 2, ["#FCD116", "#003893", "#CE1126"], [2, 1, 1]),
    "Ukraine": _h(3 / 2, ["#0057B7", "#FFD700"]),
    "Poland": _h(8 / 5, [WHITE, "#DC143C"]),
    "Monaco": _h(5 / 4, ["#CE1126", WHITE]),
    "Thailand": _h(3 / 2, ["#A51931", "#F4F5F8", "#2D2A4A", "#F4F5F8", "#A51931"], [1, 1, 2, 1, 1]),
    "Mauritius": _h(3 / 2, ["#EA2839", "#1A206D", "#FFD500", "#00A551"]),
    "Gambia": _h(3 / 2, ["#CE1126", WHITE, "#0C1C8C", WHITE, "#3A7728"], [6, 1, 4, 1, 6]),
    "Botswana": _h(3 / 2, ["#6DA9D2", WHITE, BLACK, WHITE, "#6DA9D2"], [9, 1, 4, 1, 9]),
    # Nordic crosses (official unit widths)
    "Denmark": _nordic([12, 4, 21], [12, 4, 12], "#C8102E", WHITE),
    "Sweden": _nordic([5, 2, 9], [4, 2, 4], "#006AA7", "#FECC02"),
    "Norway": _nordic([6, 1, 2, 1, 12], [6, 1, 2, 1, 6], "#BA0C2F", WHITE, "#00205B"),
    "Finland": _nordic([5, 3, 10], [4, 3, 4], WHITE, "#002F6C"),
    "Iceland": _nordic([7, 1, 2, 1, 14], [7, 1, 2, 1, 7], "#02529C", WHITE, "#DC1E35"),
    # discs, crosses, triangles, stars
    "Japan": _flag(1.5, rect(0, 0, 1.5, 1, WHITE), circle(0.75, 0.5, 0.3, "#BC002D")),
    "Bangladesh": _flag(5 / 3, rect(0, 0, 5 / 3, 1, "#006A4E"), circle(0.45 * 5 / 3, 0.5, 1 / 3, "#F42A41")),
    "Switzerland": _flag(1, rect(0, 0, 1, 1, "#DA291C"), rect(6 / 32, 13 / 32, 26 / 32, 19 / 32, WHITE),
                         rect(13 / 32, 6 / 32, 19 / 32, 26 / 32, WHITE)),
    "Laos": _h(1.5, ["#CE1126", "#002868", "#CE1126"], [1, 2, 1], [circle(0.75, 0.5, 0.2, WHITE)]),
    "Greece": _h(1.5, ["#0D5EAF", WHITE] * 4 + ["#0D5EAF"], None,
                 [rect(0, 0, 5 / 9, 5 / 9, "#0D5EAF"), rect(2 / 9, 0, 3 / 9, 5 / 9, WHITE),
                  rect(0, 2 / 9, 5 / 9, 3 / 9, WHITE)]),
    "Czech Republic": _h(1.5, [WHITE, "#D7141A"], None, [poly([(0, 0), (0.75, 0.5), (0, 1)], "#11457E")]),
    "Bahamas": _h(2, ["#00778B", "#FFC72C", "#00778B"], None, [poly([(0, 0), (EQ, 0.5), (0, 1)], BLACK)]),
    "Cuba": _h(2, ["#002A8F", WHITE] * 2 + ["#002A8F"], None,
               [poly([(0, 0), (EQ, 0.5), (0, 1)], "#CF142B"), star(EQ / 3, 0.5, 1 / 6, WHITE)], APPROX),
    "Djibouti": _h(1.5, ["#6AB2E7", "#12AD2B"], None,
                   [poly([(0, 0), (EQ, 0.5), (0, 1)], WHITE), star(EQ / 3, 0.5, 0.125, "#D7141A")], APPROX),
    "Kuwait": _h(2, ["#007A3D", WHITE, "#CE1126"], None,
                 [poly([(0, 0), (0.5, 1 / 3), (0.5, 2 / 3), (0, 1)], BLACK)]),
    "United Arab Emirates": _h(2, ["#00732F", WHITE, BLACK], None, [rect(0, 0, 0.5, 1, "#FF0000")]),
    "Jordan": _h(2, [BLACK, WHITE, "#007A3D"], None,
                 [poly([(0, 0), (1, 0.5), (0, 1)], "#CE1126"), star(0.33, 0.5, 0.09, WHITE, points=7, inner=0.5)],
                 APPROX),
    "Libya": _h(2, ["#E70013", BLACK, "#239E46"], [1, 2, 1],
                [crescent(0.96, 0.5, 0.19, 0.05, 0.155, WHITE), star(1.13, 0.5, 0.08, WHITE)], APPROX),
    "Turkey": _flag(1.5, rect(0, 0, 1.5, 1, "#E30A17"), crescent(0.53125, 0.5, 0.25, 0.0625, 0.2, WHITE),
                    star(0.8542, 0.5, 0.125, WHITE, angle=180)),
    "Vietnam": _flag(1.5, rect(0, 0, 1.5, 1, "#DA251D"), star(0.75, 0.5, 0.3, "#FFFF00")),
    "Somalia": _flag(1.5, rect(0, 0, 1.5, 1, "#4189DD"), star(0.75, 0.5, 0.26, WHITE), note=APPROX),
    "Ghana": _h(1.5, ["#CE1126", "#FCD116", "#006B3F"], None, [star(0.75, 1 / 3 + 0.1843, 0.1843, BLACK)]),
    "Burkina Faso": _h(1.5, ["#EF2B2D", "#009E49"], None, [star(0.75, 0.5, 0.2, "#FCD116")], APPROX),
    "Cameroon": _v(1.5, ["#007A5E", "#CE1126", "#FCD116"], None, [star(0.75, 0.5, 0.16, "#FCD116")], APPROX),
    "Senegal": _v(1.5, ["#00853F", "#FDEF42", "#E31B23"], None, [star(0.75, 0.5, 0.17, "#00853F")], APPROX),
    "Guinea-Bissau": _h(2, ["#FCD116", "#009E49"], None,
                        [rect(0, 0, 2 / 3, 1, "#CE1126"), star(1 / 3, 0.5, 0.2, BLACK)], APPROX),
    "Togo": _h(1.618, ["#006A4E", "#FFCE00"] * 2 + ["#006A4E"], None,
               [rect(0, 0, 0.6, 0.6, "#D21034"), star(0.3, 0.3, 0.19, WHITE)], APPROX),
    "Liberia": _h(1.9, ["#BF0A30", WHITE] * 5 + ["#BF0A30"], None,
                  [rect(0, 0, 5 / 11, 5 / 11, "#002868"), star(5 / 22, 5 / 22, 0.16, WHITE)], APPROX),
    "United States": _usa(),
    "Chile": _h(1.5, [WHITE, "#D52B1E"], None, [rect(0, 0, 0.5, 0.5, "#0039A6"), star(0.25, 0.25, 0.125, WHITE)]),
    "Panama": _flag(1.5, rect(0, 0, 0.75, 0.5, WHITE), rect(0.75, 0, 1.5, 0.5, "#D21034"),
                    rect(0, 0.5, 0.75, 1, "#005293"), rect(0.75, 0.5, 1.5, 1, WHITE),
                    star(0.375, 0.25, 0.12, "#005293"), star(1.125, 0.75, 0.12, "#D21034"), note=APPROX),
    "Costa Rica": _h(5 / 3, ["#002B7F", WHITE, "#CE1126", WHITE, "#002B7F"], [1, 1, 2, 1, 1],
                     note="civil flag (the state flag adds the coat of arms)"),
    "Honduras": _h(2, ["#00BCE4", WHITE, "#00BCE4"], None,
                   [star(1 + dx, 0.5 + dy, 0.05, "#00BCE4")
                    for dx, dy in ((0, 0), (-0.2, -0.08), (0.2, -0.08), (-0.2, 0.08), (0.2, 0.08))], APPROX),
    "Jamaica": _flag(2, rect(0, 0, 2, 1, "#009B3A"), poly([(0, 0), (1, 0.5), (0, 1)], BLACK),
                     poly([(2, 0), (1, 0.5), (2, 1)], BLACK), band(2, 0, 0, 2, 1, 0.075, "#FED100"),
                     band(2, 0, 1, 2, 0, 0.075, "#FED100"), note="saltire width approximate"),
    "Trinidad and Tobago": _flag(5 / 3, rect(0, 0, 5 / 3, 1, "#CE1126"), band(5 / 3, 0, 0, 5 / 3, 1, 0.165, WHITE),
                                 band(5 / 3, 0, 0, 5 / 3, 1, 0.125, BLACK), note="band widths approximate"),
    "Guyana": _flag(5 / 3, rect(0, 0, 5 / 3, 1, "#009E49"), poly([(0, 0), (5 / 3, 0.5), (0, 1)], WHITE),
                    poly([(0, 0.04), (5 / 3 - 0.08, 0.5), (0, 0.96)], "#FCD116"),
                    poly([(0, 0), (5 / 6 + 0.05, 0.5), (0, 1)], BLACK),
                    poly([(0, 0.045), (5 / 6, 0.5), (0, 0.955)], "#CE1126"), note="fimbriation widths approximate"),
    "Tanzania": _flag(1.5, poly([(0, 0), (1.5, 0), (0, 1)], "#1EB53A"), poly([(1.5, 0), (1.5, 1), (0, 1)], "#00A3DD"),
                      band(1.5, 0, 1, 1.5, 0, 0.18, "#FCD116"), band(1.5, 0, 1, 1.5, 0, 0.135, BLACK),
                      note="band widths approximate"),
    "Republic of the Congo": _flag(1.5, poly([(0, 0), (1, 0), (0, 1)], "#009543"),
                                   poly([(1, 0), (1.5, 0), (0.5, 1), (0, 1)], "#FBDE4A"),
                                   poly([(1.5, 0), (1.5, 1), (0.5, 1)], "#DC241F")),
    "Democratic Republic of the Congo": _flag(4 / 3, rect(0, 0, 4 / 3, 1, "#007FFF"),
                                              band(4 / 3, 0, 1, 4 / 3, 0, 0.135, "#F7D618"),
                                              band(4 / 3, 0, 1, 4 / 3, 0, 0.1, "#CE1021"),
                                              star(0.27, 0.22, 0.14, "#F7D618"), note=APPROX),
    "Seychelles": _flag(2, poly([(0, 1), (0, 0), (2 / 3, 0)], "#003F87"), poly([(0, 1), (2 / 3, 0), (4 / 3, 0)], "#FCD856"),
                        poly([(0, 1), (4 / 3, 0), (2, 0), (2, 1 / 3)], "#D62828"),
                        poly([(0, 1), (2, 1 / 3), (2, 2 / 3)], WHITE), poly([(0, 1), (2, 2 / 3), (2, 1)], "#007A3D")),
    "Benin": _h(1.5, ["#FCD116", "#E8112D"], None, [rect(0, 0, 0.6, 1, "#008751")]),
    "Madagascar": _h(1.5, ["#FC3D32", "#007E3A"], None, [rect(0, 0, 0.5, 1, WHITE)]),
    "Niger": _h(7 / 6, ["#E05206", WHITE, "#0DB02B"], None, [circle(7 / 12, 0.5, 0.125, "#E05206")]),
    "Central African Republic": _h(5 / 3, ["#003082", WHITE, "#289728", "#FFCE00"], None,
                                   [rect(5 / 6 - 0.125, 0, 5 / 6 + 0.125, 1, "#D21034"),
                                    star(0.4, 0.125, 0.1, "#FFCE00")], APPROX),
    "Suriname": _h(1.5, ["#377E3F", WHITE, "#B40A2D", WHITE, "#377E3F"], [2, 1, 4, 1, 2],
                   [star(0.75, 0.5, 0.2, "#ECC81D")], APPROX),
    "Myanmar": _h(1.5, ["#FECB00", "#34B233", "#EA2839"], None, [star(0.75, 0.53, 0.33, WHITE)], APPROX),
    "Pakistan": _flag(1.5, rect(0, 0, 0.375, 1, WHITE), rect(0.375, 0, 1.5, 1, "#01411C"),
                      crescent(0.96, 0.52, 0.3, 0.09, 0.27, WHITE, angle=-40),
                      star(1.13, 0.36, 0.1, WHITE, angle=-40 - 36), note=APPROX),
    "Algeria": _v(1.5, ["#006233", WHITE], None,
                  [crescent(0.75, 0.5, 0.25, 0.0625, 0.2, "#D21034"), star(0.86, 0.5, 0.125, "#D21034", angle=180)],
                  APPROX),
    "Tunisia": _flag(1.5, rect(0, 0, 1.5, 1, "#E70013"), circle(0.75, 0.5, 0.25, WHITE),
                     crescent(0.72, 0.5, 0.19, 0.05, 0.15, "#E70013"), star(0.79, 0.5, 0.11, "#E70013", angle=180),
                     note=APPROX),
    "Morocco": _morocco(),
    "Maldives": _flag(1.5, rect(0, 0, 1.5, 1, "#D21034"), rect(0.25, 0.25, 1.25, 0.75, "#007E3A"),
                      crescent(0.78, 0.5, 0.17, 0.06, 0.15, WHITE), note=APPROX),
    "Singapore": _singapore(),
    "India": _india(),
    "North Korea": _h(2, ["#024FA2", WHITE, "#ED1C27", WHITE, "#024FA2"], [6, 1, 15, 1, 6],
                      [circle(0.67, 0.5, 0.24, WHITE), star(0.67, 0.51, 0.23, "#ED1C27")], APPROX),
    "Bosnia and Herzegovina": _bosnia(),
    "North Macedonia": _flag(2, rect(0, 0, 2, 1, "#D20000"), _sun_rays(2, 1, 0.5, "#FFE600", 0.11),
                             circle(1, 0.5, 0.17, "#D20000"), circle(1, 0.5, 0.14, "#FFE600"), note=APPROX),
    "Azerbaijan": _h(2, ["#00B5E2", "#EF3340", "#509E2F"], None,
                     [crescent(0.95, 0.5, 0.15, 0.04, 0.125, WHITE), star(1.1, 0.5, 0.065, WHITE, points=8, inner=0.5)],
                     APPROX),
    "Georgia": _georgia(),
    "Qatar": _serrated(28 / 11, "#8A1538", 0.75, 1.0, 9),
    "Bahrain": _serrated(5 / 3, "#CE1126", 0.38, 0.62, 5),
    "Spain": _h(1.5, ["#AA151B", "#F1BF00", "#AA151B"], [1, 2, 1], note="civil flag (without the coat of arms)"),
    "Guatemala": _v(8 / 5, ["#4997D0", WHITE, "#4997D0"], note="civil flag (without the coat of arms)"),
}
