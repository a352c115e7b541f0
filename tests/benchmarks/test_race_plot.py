"""The sweep's hand-written SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from benchmarks.race_plot import medians, nice_ceiling, sweep_svg


def _point(n: int, ours: float, theirs: float) -> dict[str, object]:
    return {"sessions": n, "ours": {"tokens_per_s": ours, "ttft_ms_p95": 10.0 * n},
            "theirs": {"tokens_per_s": theirs, "ttft_ms_p95": 30.0 * n}}


POINTS = [_point(1, 150, 120), _point(4, 250, 170), _point(4, 270, 160), _point(16, 320, 180)]


def test_axis_tops_are_one_two_or_five_times_a_power_of_ten() -> None:
    """Round tops make gridlines at readable values."""
    assert [nice_ceiling(v) for v in (0.7, 3.2, 180.0, 320.0, 1000.0)] == [
        1.0, 5.0, 200.0, 500.0, 1000.0]


def test_repeated_sizes_are_summarised_by_their_median() -> None:
    """Two repetitions at 4 sessions give one point at their median."""
    assert medians(POINTS, "ours", "tokens_per_s") == [(1, 150.0), (4, 260.0), (16, 320.0)]


def test_the_svg_is_well_formed_with_a_line_per_server_and_panel() -> None:
    """Two panels, two polylines each, and a legend naming both servers."""
    root = ET.fromstring(sweep_svg(POINTS))
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}polyline")) == 4
    texts = [t.text for t in root.findall(f"{ns}text")]
    assert "npc-runtime" in texts
    assert "llama-server" in texts
