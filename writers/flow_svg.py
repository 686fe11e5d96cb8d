"""The writers' flow charts, the drawing: one flow as a bilingual SVG diagram.

A vertical chain of boxes with arrows, alternatives (``or``) side by side.
Every piece of text from the data is XML-escaped on the way into the SVG;
Hebrew lines read right to left. The tags, the conditions and memory steps in
words and the start and end labels are in the flow's console language
(:attr:`writers.flows.Flow.language`); the raw names and the YAML form of a
condition are code, left to right. The flows come from :mod:`writers.flows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Sequence
from xml.sax.saxutils import escape, quoteattr

from writers.flows import CONTROL_CHARACTERS, LANGUAGES, Flow, Node

__all__ = ["PAD", "render_svg", "text_width", "wrap"]

FONT = 13.0
TAG_FONT = 10.5
CODE_FONT = 10.5
CODE_LINE = 14.0
CODE_FAMILY = "DejaVu Sans Mono, Noto Sans Mono, monospace"
LINE = 18.0
PAD = 12.0
NODE_W = 440.0
BRANCH_W = 270.0
GAP_X = 18.0
GAP_Y = 30.0
FORK_TOP = 36.0
FORK_BOTTOM = 20.0
TERMINAL_FONT = 12.0
MARGIN = 16.0
MAX_LINES = 3
_WIDE = {"m": 0.97, "w": 0.82, "M": 0.86, "W": 0.99, "@": 1.0, "%": 0.95, "—": 1.0, "₪": 0.8}
_NARROW = {"i": 0.28, "j": 0.28, "l": 0.28, "f": 0.35, "t": 0.39, "r": 0.41, "I": 0.29, "J": 0.29,
           " ": 0.32, ".": 0.32, ",": 0.32, ":": 0.34, ";": 0.34, "'": 0.27, "!": 0.4, "|": 0.34,
           "(": 0.39, ")": 0.39, "-": 0.36, "/": 0.34, "ו": 0.3, "ן": 0.3, "י": 0.25, "ג": 0.45,
           "ז": 0.39, "נ": 0.44}
_ISOLATES = frozenset("\u2066\u2067\u2068\u2069")  # the catalog puts a value in a Hebrew text as an isolate


def text_width(text: str, size: float = FONT, bold: bool = False) -> float:
    """Approximate rendered width of ``text`` (DejaVu Sans-like metrics; errs on the wide side).

    Args:
        text: The text.
        size: Font size in pixels.
        bold: Bold text is about 10% wider.
    """
    total = 0.0
    for char in text:
        if char in _ISOLATES:
            continue
        if char in _WIDE:
            em = _WIDE[char]
        elif char in _NARROW:
            em = _NARROW[char]
        elif char.isupper():
            em = 0.72
        elif char.isdigit():
            em = 0.64
        elif "\u0590" <= char <= "\u05ff":
            em = 0.65
        else:
            em = 0.62
        total += em
    return total * size * (1.1 if bold else 1.0)


def wrap(text: str, width: float, size: float = FONT, max_lines: int = MAX_LINES) -> List[str]:
    """Greedy word wrap to ``width`` pixels; a word longer than a line is cut; an ellipsis ends cut text."""
    lines: List[str] = []
    current = ""
    words = text.split()
    for word in words:
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while text_width(word, size) > width:
            cut = len(word)
            while cut > 1 and text_width(word[:cut], size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + " …", size) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + " …"
    return lines


def _attr(value: object) -> str:
    return quoteattr(CONTROL_CHARACTERS.sub("", str(value)))


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass
class _Box:
    """A node laid out: its lines and its size."""

    node: Node
    width: float
    name_lines: List[str]
    en_lines: List[str]
    he_lines: List[str]
    meta_lines: List[str]
    code_lines: List[str]

    @property
    def tag_line(self) -> bool:
        """The tag has a line of its own (no name beside it)."""
        return bool(self.node.tag) and not self.name_lines

    @property
    def height(self) -> float:
        count = (len(self.name_lines) + self.tag_line + len(self.meta_lines) + len(self.en_lines)
                 + len(self.he_lines))
        return (PAD * 2 + LINE * count + (4.0 if self.en_lines or self.he_lines else 0.0)
                + CODE_LINE * len(self.code_lines))


class _Drawing:
    """Collects the SVG elements of one flow while laying it out top to bottom."""

    def __init__(self, slug: str, languages: Sequence[str], ui: str = "en") -> None:
        self.slug = slug or "flow"
        self.languages = tuple(languages)
        self.ui = ui
        self.rtl = ui == "he"
        self.parts: List[str] = []
        self.count = 0

    # sizes ------------------------------------------------------------------------------
    def box(self, node: Node, width: float) -> _Box:
        inner = width - 2 * PAD - 4  # the widths are estimates: keep a little slack
        tag_room = text_width(node.tag.upper(), TAG_FONT) + 10 if node.tag else 0.0
        name_lines = wrap(node.name, inner - tag_room, FONT * 1.05 * 1.1, max_lines=4) if node.show_name else []
        meta = [line for text in node.meta for line in wrap(text, inner, FONT, max_lines=4)]
        en = wrap(node.en, inner) if "en" in self.languages and node.en else []
        he = wrap(node.he, inner) if "he" in self.languages and node.he else []
        code = wrap(" · ".join(node.code), inner, CODE_FONT * 1.05, max_lines=3) if node.code else []
        return _Box(node, width, name_lines, en, he, meta, code)

    def seq_width(self, nodes: Sequence[Node], width: float) -> float:
        widest = width
        for node in nodes:
            if node.kind == "or" and node.branches:
                count = len(node.branches)
                branch = max(self.seq_width(b, BRANCH_W) for b in node.branches)
                widest = max(widest, count * branch + (count - 1) * GAP_X)
        return widest

    def seq_height(self, nodes: Sequence[Node], width: float) -> float:
        total = 0.0
        for i, node in enumerate(nodes):
            total += self.node_height(node, width) + (GAP_Y if i else 0.0)
        return total

    def node_height(self, node: Node, width: float) -> float:
        if node.kind == "or" and node.branches:
            return FORK_TOP + max(self.seq_height(b, BRANCH_W) for b in node.branches) + FORK_BOTTOM
        return self.box(node, width).height

    # drawing ----------------------------------------------------------------------------
    def edge(self, x: float, y1: float, y2: float, *, arrow: bool = True) -> None:
        marker = f' marker-end="url(#arrow-{self.slug})"' if arrow else ""
        end = y2 - 1 if arrow else y2
        self.parts.append(
            f'<line class="flow-edge" x1="{_num(x)}" y1="{_num(y1)}" x2="{_num(x)}" y2="{_num(end)}" '
            f'stroke="#8a94a6" stroke-width="1.5"{marker}/>'
        )

    def text(self, x: float, y: float, content: str, css: str, lang: str, *, rtl: bool = False,
             anchor: str = "start", bold: bool = False, size: float = FONT, family: str = "") -> None:
        # explicit both ways: on the Hebrew console the page's rtl would otherwise turn every code line around
        extra = ' direction="rtl"' if rtl else ' direction="ltr"'
        extra += ' font-weight="bold"' if bold else ""
        extra += f' font-size="{_num(size)}"' if size != FONT else ""
        extra += f" font-family={_attr(family)}" if family else ""
        self.parts.append(
            f'<text class={_attr(css)} x="{_num(x)}" y="{_num(y)}" xml:lang="{lang}" lang="{lang}"'
            f'{extra} text-anchor="{anchor}">{escape(CONTROL_CHARACTERS.sub("", content))}</text>'
        )

    def shape(self, kind: str, x: float, y: float, w: float, h: float) -> str:
        box = f'x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}"'
        paint = 'fill="#ffffff" stroke="#8a94a6" stroke-width="1.2"'
        if kind == "intent":
            return f'<rect class="flow-shape" {box} rx="16" {paint}/>'
        if kind == "loop":
            return f'<rect class="flow-shape" {box} rx="{_num(min(h / 2, 20))}" {paint}/>'
        if kind in ("slot", "checkpoint"):
            c = min(12.0, h / 2)
            points = [(x + c, y), (x + w - c, y), (x + w, y + h / 2), (x + w - c, y + h), (x + c, y + h),
                      (x, y + h / 2)]
            if kind == "checkpoint":
                points = [(x, y), (x + w - c, y), (x + w, y + h / 2), (x + w - c, y + h), (x, y + h)]
            coords = " ".join(f"{_num(px)},{_num(py)}" for px, py in points)
            return f'<polygon class="flow-shape" points="{coords}" {paint}/>'
        if kind == "form":
            back = f'x="{_num(x + 5)}" y="{_num(y + 5)}" width="{_num(w)}" height="{_num(h)}"'
            return (f'<rect class="flow-shape flow-shape-back" {back} rx="4" {paint}/>'
                    f'<rect class="flow-shape" {box} rx="4" {paint}/>')
        return f'<rect class="flow-shape" {box} rx="4" {paint}/>'

    def ui_text(self, left: float, right: float, y: float, content: str, css: str, *, size: float = FONT,
                at_right: bool = False) -> None:
        """A line in the console language: Hebrew from the right edge, English from the left (or the right)."""
        if self.rtl:
            self.text(right, y, content, css, self.ui, rtl=True, size=size)
        elif at_right:
            self.text(right, y, content, css, self.ui, anchor="end", size=size)
        else:
            self.text(left, y, content, css, self.ui, size=size)

    def label(self, x: float, y: float, content: str, css: str, size: float) -> None:
        """A label right of the centre line (start, end, "one of"), in the console language."""
        # direction="rtl" makes "end" the left end: a Hebrew label also starts just right of the line
        self.text(x, y, content, css, self.ui, rtl=self.rtl, anchor="end" if self.rtl else "start", size=size)

    def node(self, node: Node, cx: float, y: float, width: float) -> float:
        if node.kind == "or" and node.branches:
            return self.fork(node, cx, y)
        box = self.box(node, width)
        x, h = cx - width / 2, box.height
        self.count += 1
        classes = f"flow-node flow-{node.kind}" + (" flow-handoff" if node.handoff else "")
        self.parts.append(f'<g class="{classes}" id="{self.slug}-n{self.count}" data-kind="{node.kind}">')
        tip = node.tooltip or " / ".join(t for t in (*node.meta, node.en, node.he) if t)
        shown = " · ".join(node.code) if node.code else node.name
        title = f"{shown}: {tip}" if tip else shown
        self.parts.append(f"<title>{escape(CONTROL_CHARACTERS.sub('', title))}</title>")
        self.parts.append(self.shape(node.kind, x, y, width, h))
        line_y = y + PAD + FONT
        if node.tag:
            self.ui_text(x + PAD, x + width - PAD, line_y - 1, node.tag.upper(), "flow-tag", size=TAG_FONT,
                         at_right=True)
        if box.tag_line:
            line_y += LINE
        for line in box.name_lines:
            self.text(x + PAD, line_y, line, "flow-name", "en", bold=True, size=FONT * 1.05)
            line_y += LINE
        for line in box.meta_lines:
            self.ui_text(x + PAD, x + width - PAD, line_y, line, "flow-meta")
            line_y += LINE
        if box.en_lines or box.he_lines:
            line_y += 4
        for line in box.en_lines:
            self.text(x + PAD, line_y, line, "flow-en", "en")
            line_y += LINE
        for line in box.he_lines:
            # direction="rtl" makes "start" the right end: the line is anchored at the box's right padding
            self.text(x + width - PAD, line_y, line, "flow-he", "he", rtl=True)
            line_y += LINE
        for line in box.code_lines:
            # the step as written in the YAML: code, left to right, whatever the console language
            self.text(x + PAD, line_y - 2, line, "flow-code", "en", size=CODE_FONT, family=CODE_FAMILY)
            line_y += CODE_LINE
        self.parts.append("</g>")
        return y + h

    def seq(self, nodes: Sequence[Node], cx: float, y: float, width: float) -> float:
        for i, node in enumerate(nodes):
            if i:
                # an arrow into a fork would point at its bar: the bar carries the arrows on
                self.edge(cx, y, y + GAP_Y, arrow=node.kind != "or")
                y += GAP_Y
            y = self.node(node, cx, y, width)
        return y

    def fork(self, node: Node, cx: float, y: float) -> float:
        count = len(node.branches)
        branch_w = max(self.seq_width(b, BRANCH_W) for b in node.branches)
        total = count * branch_w + (count - 1) * GAP_X
        left = cx - total / 2
        centres = [left + branch_w / 2 + i * (branch_w + GAP_X) for i in range(count)]
        top, body = y + FORK_TOP, max(self.seq_height(b, BRANCH_W) for b in node.branches)
        bottom = top + body + FORK_BOTTOM
        bar = y + 12
        path = f"M{_num(cx)},{_num(y)} V{_num(bar)} M{_num(centres[0])},{_num(bar)} H{_num(centres[-1])}"
        self.parts.append(f'<g class="flow-fork" data-kind="or"><path class="flow-edge" d="{path}" fill="none" '
                          f'stroke="#8a94a6" stroke-width="1.5"/>')
        self.label(cx + 8, bar - 4, node.tag, "flow-fork-label", TERMINAL_FONT)
        ends: List[float] = []
        for centre, branch in zip(centres, node.branches, strict=True):
            self.parts.append(f'<line class="flow-edge" x1="{_num(centre)}" y1="{_num(bar)}" x2="{_num(centre)}" '
                              f'y2="{_num(top - 1)}" stroke="#8a94a6" stroke-width="1.5" '
                              f'marker-end="url(#arrow-{self.slug})"/>')
            ends.append(self.seq(branch, centre, top, branch_w))
        for centre, end in zip(centres, ends, strict=True):
            self.parts.append(f'<line class="flow-edge" x1="{_num(centre)}" y1="{_num(end)}" x2="{_num(centre)}" '
                              f'y2="{_num(bottom - 8)}" stroke="#8a94a6" stroke-width="1.5"/>')
        self.parts.append(f'<path class="flow-edge" d="M{_num(centres[0])},{_num(bottom - 8)} '
                          f'H{_num(centres[-1])} M{_num(cx)},{_num(bottom - 8)} V{_num(bottom)}" fill="none" '
                          f'stroke="#8a94a6" stroke-width="1.5"/></g>')
        return bottom


def render_svg(flow: Flow, languages: Iterable[str] = LANGUAGES) -> str:
    """Draws a flow as an SVG: a vertical chain of boxes with arrows, alternatives side by side.

    Each kind of step has its own shape and CSS class (``flow-intent``,
    ``flow-response``, ``flow-action``, ``flow-form``, ``flow-loop``,
    ``flow-slot``, ``flow-condition``, ``flow-checkpoint``; ``flow-handoff``
    on top for steps that hand over to a person). English lines are left-aligned;
    Hebrew lines carry ``direction="rtl"`` and are anchored at the box's right
    edge. Every ``<text>`` has ``xml:lang`` and ``lang``.

    Args:
        flow: The flow.
        languages: Which label languages to show (``en``, ``he`` or both).

    Returns:
        The SVG document (no XML declaration), ready to put inline in HTML.
    """
    chosen = [lang for lang in LANGUAGES if lang in set(languages)] or list(LANGUAGES)
    drawing = _Drawing(flow.slug, chosen, flow.language)
    nodes = flow.conditions + flow.steps
    start_label, end_label = flow.start or flow.kind, flow.end
    # the start and end labels sit right of the centre line: the chart must be wide enough for them
    label_room = max(text_width(label, TERMINAL_FONT) for label in (start_label, end_label)) + 16 + MARGIN
    width = max(drawing.seq_width(nodes, NODE_W) + 2 * MARGIN, 2 * label_room)
    cx = width / 2
    y = MARGIN
    drawing.parts.append(f'<circle class="flow-start" cx="{_num(cx)}" cy="{_num(y + 7)}" r="7" fill="#1d2330"/>')
    drawing.label(cx + 14, y + 11, start_label, "flow-terminal", TERMINAL_FONT)
    y += 14
    if nodes:
        drawing.edge(cx, y, y + GAP_Y - 8, arrow=nodes[0].kind != "or")
        y = drawing.seq(nodes, cx, y + GAP_Y - 8, NODE_W)
    drawing.edge(cx, y, y + GAP_Y - 8)
    y += GAP_Y - 8
    drawing.parts.append(f'<circle class="flow-end" cx="{_num(cx)}" cy="{_num(y + 8)}" r="8" fill="#ffffff" '
                         f'stroke="#1d2330" stroke-width="2"/>'
                         f'<circle class="flow-end-dot" cx="{_num(cx)}" cy="{_num(y + 8)}" r="4" fill="#1d2330"/>')
    drawing.label(cx + 16, y + 12, end_label, "flow-terminal", TERMINAL_FONT)
    height = y + 16 + MARGIN
    title_id = f"title-{drawing.slug}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-chart" width="{_num(width)}" '
        f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" role="img" '
        f'aria-labelledby="{title_id}" font-family="DejaVu Sans, Noto Sans, Noto Sans Hebrew, Arial, sans-serif" '
        f'font-size="{_num(FONT)}" data-flow={_attr(flow.slug)}>'
        f'<title id="{title_id}">{escape(CONTROL_CHARACTERS.sub("", flow.title or flow.name))}</title>'
        f'<defs><marker id="arrow-{drawing.slug}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        f'markerHeight="8" orient="auto-start-reverse"><path class="flow-arrow" d="M0,0 L10,5 L0,10 z" '
        f'fill="#8a94a6"/></marker></defs>'
    )
    return head + "".join(drawing.parts) + "</svg>"
