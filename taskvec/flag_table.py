"""The flags of the dataset's countries, in flag units (height 1, x from hoist to fly).

Colours are the usual official/reference values; proportions and layouts follow each
country's flag law or its standard construction sheet. ``Flag.note`` says what is
simplified (emblems are left out only where marked).
"""

from __future__ import annotations

from .flags import Flag, hbands, nordic, vbands


def _h(ratio, colors, weights=None, extra=(), note=""):
    return Flag(ratio, tuple(hbands(ratio, colors, weights)) + tuple(extra), note)


def _v(ratio, colors, weights=None, extra=(), note=""):
    return Flag(ratio, tuple(vbands(ratio, colors, weights)) + tuple(extra), note)


def _nordic(length, height, field, cross, inner=None):
    ratio, ops = nordic(length, height, field, cross, inner)
    return Flag(ratio, tuple(ops))


WHITE = "#FFFFFF"
BLACK = "#000000"

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
}
