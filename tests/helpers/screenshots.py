"""What a screenshot shows a person: where the ink of a line is drawn, and whether a page is blank.

A browser test takes a screenshot of the viewport and asks where something is
drawn inside a box of the page: the box's background is its most common colour,
and every pixel that differs from it is ink. A right-to-left line has its ink
against the right edge of its box and room on the left; a left-to-right line the
other way round. Coordinates are the page's CSS pixels, as Playwright gives them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

import numpy
from PIL import Image

Box = Dict[str, float]  # x, y, width, height (CSS pixels of the viewport)

# The part of an element's box its children are drawn in: the border and a scroll bar taken off
# (Chromium draws a right-to-left element's scroll bar on its left).
_INNER_BOX = """
el => {
  const r = el.getBoundingClientRect();
  const cs = getComputedStyle(el);
  const left = parseFloat(cs.borderLeftWidth) || 0;
  const right = parseFloat(cs.borderRightWidth) || 0;
  const bar = Math.max(0, el.offsetWidth - el.clientWidth - left - right);
  return {x: r.left + left + (cs.direction === 'rtl' ? bar : 0), y: r.top, width: el.clientWidth, height: r.height};
}
"""


@dataclass(frozen=True)
class Ink:
    """Where the ink is inside a box, in CSS pixels.

    Attributes:
        left_gap: From the box's left edge to the first inked column.
        right_gap: From the last inked column to the box's right edge.
        width: Of the inked columns, first to last.
        share: The part of the box's pixels that are ink (0 to 1).
        box: The box that was looked at.
    """

    left_gap: float
    right_gap: float
    width: float
    share: float
    box: Box


def find_ink(png: bytes, box: Box, *, scale: float = 1.0, tolerance: int = 48) -> Optional[Ink]:
    """The ink of a screenshot inside ``box``, or None when nothing is drawn there.

    Args:
        png: A screenshot of the viewport.
        box: Where to look, in CSS pixels.
        scale: Image pixels per CSS pixel (the context's device scale factor).
        tolerance: How far (0-255, any channel) a pixel must be from the background to be ink.
    """
    image = Image.open(io.BytesIO(png)).convert("RGB")
    left = max(0, round(box["x"] * scale))
    top = max(0, round(box["y"] * scale))
    right = min(image.width, round((box["x"] + box["width"]) * scale))
    bottom = min(image.height, round((box["y"] + box["height"]) * scale))
    if right <= left or bottom <= top:
        raise AssertionError(f"the box {box} is outside the screenshot ({image.width}x{image.height})")
    crop = numpy.asarray(image.crop((left, top, right, bottom)), dtype=numpy.int16)
    colours, counts = numpy.unique(crop.reshape(-1, 3), axis=0, return_counts=True)
    background = colours[counts.argmax()]
    ink = numpy.abs(crop - background).max(axis=2) > tolerance
    columns = numpy.flatnonzero(ink.any(axis=0))
    if not columns.size:
        return None
    width = crop.shape[1]
    return Ink(
        left_gap=float(columns[0]) / scale,
        right_gap=float(width - 1 - columns[-1]) / scale,
        width=float(columns[-1] - columns[0] + 1) / scale,
        share=float(ink.mean()),
        box=box,
    )


async def _steady_shot(page: Any, measure: Callable[[], Awaitable[Box]], path: Optional[Path]) -> Tuple[bytes, Box]:
    """A screenshot and the box to look at, measured before and after it.

    A layout that moved in between (a message arriving, a scroll) is shot again.
    """
    for _ in range(10):
        before = await measure()
        png = await page.screenshot(path=str(path) if path else None)
        if await measure() == before:
            return png, before
    raise AssertionError("the page kept moving while it was photographed")


async def row_ink(page: Any, row: Any, across: Any, path: Optional[Path] = None) -> Ink:
    """The ink of ``row``'s lines across the whole width of ``across`` (its container), from a screenshot.

    Args:
        page: The Playwright page.
        row: The element whose lines are looked at (its top and bottom bound the band).
        across: The element whose inner width the band spans.
        path: Where to keep the screenshot (for a person to look at).

    Raises:
        AssertionError: Nothing is drawn in the band.
    """
    await row.scroll_into_view_if_needed()

    async def band() -> Box:
        inner: Box = await across.evaluate(_INNER_BOX)
        own = await row.bounding_box()
        assert own is not None, "the row is not displayed"
        return {"x": inner["x"], "y": own["y"], "width": inner["width"], "height": own["height"]}

    png, box = await _steady_shot(page, band, path)
    found = find_ink(png, box, scale=float(await page.evaluate("window.devicePixelRatio")))
    assert found is not None, f"nothing is drawn in {box}"
    return found


async def box_ink(page: Any, element: Any, path: Optional[Path] = None) -> Ink:
    """The ink inside an element's own box, from a screenshot of the viewport.

    Raises:
        AssertionError: Nothing is drawn there.
    """
    await element.scroll_into_view_if_needed()

    async def own() -> Box:
        box: Optional[Box] = await element.bounding_box()
        assert box is not None, "the element is not displayed"
        return box

    png, box = await _steady_shot(page, own, path)
    found = find_ink(png, box, scale=float(await page.evaluate("window.devicePixelRatio")))
    assert found is not None, f"nothing is drawn in {box}"
    return found
