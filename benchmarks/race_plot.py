"""
The concurrency sweep as an SVG, written by hand: two panels (aggregate tokens/s and TTFT
p95 against concurrent sessions, log2 axis), one line per server. matplotlib would add a
dependency for one picture; SVG is text, diffs in review and renders on GitHub.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

WIDTH, HEIGHT = 900, 380
PANEL_W, PANEL_H = 360, 260
LEFT, TOP = 70, 50
GAP = 90
COLOURS = {"ours": "#1b7837", "theirs": "#b2182b"}
NAMES = {"ours": "npc-runtime", "theirs": "llama-server"}


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (axis tops)."""
    if value <= 0 or math.isnan(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def medians(points: list[dict[str, Any]], side: str, key: str) -> list[tuple[int, float]]:
    """(sessions, median of ``key`` over that size's repetitions) in ascending sessions."""
    sizes = sorted({int(p["sessions"]) for p in points})
    out = []
    for n in sizes:
        values = [float(p[side][key]) for p in points if p["sessions"] == n
                  and not math.isnan(float(p[side][key]))]
        if values:
            out.append((n, statistics.median(values)))
    return out


def _panel(points: list[dict[str, Any]], key: str, title: str, x0: int) -> list[str]:
    series = {side: medians(points, side, key) for side in COLOURS}
    top = nice_ceiling(max((v for s in series.values() for _, v in s), default=1.0))
    sizes = sorted({n for s in series.values() for n, _ in s}) or [1]
    span = max(1.0, math.log2(sizes[-1]) - math.log2(sizes[0]))

    def x(n: int) -> float:
        return x0 + (math.log2(n) - math.log2(sizes[0])) / span * PANEL_W

    def y(v: float) -> float:
        return TOP + PANEL_H - v / top * PANEL_H

    out = [f'<text x="{x0 + PANEL_W / 2}" y="{TOP - 15}" text-anchor="middle" '
           f'font-weight="bold">{title}</text>',
           f'<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" '
           'stroke="#888"/>']
    for i in range(6):  # gridlines at fifths of a 1-2-5 top: round values (10, 20, ...)
        v = top * i / 5
        out.append(f'<line x1="{x0}" x2="{x0 + PANEL_W}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{x0 - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
                   f'font-size="11">{v:g}</text>')
    for n in sizes:
        out.append(f'<text x="{x(n):.1f}" y="{TOP + PANEL_H + 16}" text-anchor="middle" '
                   f'font-size="11">{n}</text>')
    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{TOP + PANEL_H + 34}" text-anchor="middle" '
               'font-size="12">concurrent sessions</text>')
    for side, values in series.items():
        path = " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v in values)
        out.append(f'<polyline points="{path}" fill="none" stroke="{COLOURS[side]}" '
                   'stroke-width="2"/>')
        out += [f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="3" fill="{COLOURS[side]}"/>'
                for n, v in values]
    return out


def sweep_svg(points: list[dict[str, Any]]) -> str:
    """The whole picture for a sweep's points (as server_race.py reports them)."""
    body = _panel(points, "tokens_per_s", "aggregate tokens/s", LEFT)
    body += _panel(points, "ttft_ms_p95", "TTFT p95 (ms)", LEFT + PANEL_W + GAP)
    legend_y = HEIGHT - 12
    for i, side in enumerate(COLOURS):
        lx = LEFT + i * 160
        body.append(f'<rect x="{lx}" y="{legend_y - 10}" width="14" height="4" '
                    f'fill="{COLOURS[side]}"/>')
        body.append(f'<text x="{lx + 20}" y="{legend_y - 4}" font-size="12">'
                    f'{NAMES[side]}</text>')
    loaded = sum(1 for p in points if p.get("under_load"))
    if loaded:  # the picture travels without its page: it says so itself
        body.append(f'<text x="{WIDTH - 20}" y="{legend_y - 4}" text-anchor="end" '
                    f'font-size="12" fill="#b2182b">{loaded} of {len(points)} points taken '
                    'UNDER LOAD</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(body) + "\n</svg>\n")
