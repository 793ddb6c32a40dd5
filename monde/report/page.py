"""A report as sections of text, tables and media → a self-contained HTML page and Markdown.

The HTML inlines every image as a base64 data URI (one file to share, nothing fetched); a tiny
inline script sets document.title to "<loaded>/<total> images" once the page has loaded, which a
headless browser test reads back. The Markdown refers to the media written beside it.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from monde.io import atomic_write_bytes, atomic_write_text

MIME = {".png": "image/png", ".gif": "image/gif"}


@dataclass
class Media:
    name: str  # file name with extension, e.g. "rollout_0.gif"
    data: bytes
    caption: str = ""


@dataclass
class Section:
    title: str
    text: str = ""  # paragraphs of plain text (blank-line separated)
    table: str = ""  # a Markdown table (| a | b |), rendered to HTML too
    code: str = ""  # preformatted text (e.g. the YAML config)
    media: list[Media] = field(default_factory=list)


def _table_html(markdown: str) -> str:
    lines = [ln.strip() for ln in markdown.strip().splitlines() if ln.strip()]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    if len(rows) < 2:
        return ""
    head, body = rows[0], rows[2:]  # rows[1] is the |---| rule
    out = ["<table><thead><tr>"]
    out += [f"<th>{html.escape(c)}</th>" for c in head]
    out.append("</tr></thead><tbody>")
    for r in body:
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


_STYLE = """
body { font-family: sans-serif; max-width: 1150px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .9em; }
th, td { border: 1px solid #bbb; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
figure img { max-width: 100%; image-rendering: pixelated; }
figcaption { font-size: .85em; color: #555; max-width: 520px; }
pre { background: #f6f6f6; padding: .6em; font-size: .8em; overflow-x: auto; }
"""

_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = document.getElementsByTagName("img"), ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].naturalWidth > 0) { ok++; } }
  document.title = ok + "/" + imgs.length + " images";
});
"""


def render_html(title: str, sections: list[Section]) -> str:
    """The self-contained page (str)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>",
        f"<script>{_SCRIPT}</script></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for s in sections:
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        for para in [p for p in s.text.split("\n\n") if p.strip()]:
            out.append(f"<p>{html.escape(para)}</p>")
        if s.table:
            out.append(_table_html(s.table))
        if s.code:
            out.append(f"<pre>{html.escape(s.code)}</pre>")
        for m in s.media:
            mime = MIME.get(Path(m.name).suffix)
            if mime is None:
                raise ValueError(f"report media {m.name!r}: only .png and .gif are supported")
            uri = f"data:{mime};base64,{base64.b64encode(m.data).decode('ascii')}"
            out.append(
                f'<figure><img src="{uri}" alt="{html.escape(m.caption or m.name)}">'
                f"<figcaption>{html.escape(m.caption)}</figcaption></figure>"
            )
    out.append("</body></html>")
    return "\n".join(out)


def render_markdown(title: str, sections: list[Section], media_dir: str = "media") -> str:
    """Markdown; media are referred to as media_dir/name (write them with `write_report`)."""
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        if s.text:
            out += [s.text.strip(), ""]
        if s.table:
            out += [s.table.strip(), ""]
        if s.code:
            out += ["```", s.code.rstrip(), "```", ""]
        for m in s.media:
            out += [f"![{m.caption or m.name}]({media_dir}/{m.name})", ""]
            if m.caption:
                out += [f"*{m.caption}*", ""]
    return "\n".join(out)


def write_report(out_dir: str | Path, title: str, sections: list[Section]) -> dict[str, Path]:
    """Write out_dir/index.html, out_dir/report.md and out_dir/media/*; → their paths."""
    out_dir = Path(out_dir)
    names = [m.name for s in sections for m in s.media]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"report media names must be unique; repeated: {dupes}")
    for s in sections:
        for m in s.media:
            atomic_write_bytes(out_dir / "media" / m.name, m.data)
    page, md = out_dir / "index.html", out_dir / "report.md"
    atomic_write_text(page, render_html(title, sections))
    atomic_write_text(md, render_markdown(title, sections))
    return {"html": page, "markdown": md}
