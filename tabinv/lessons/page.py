"""An executed lesson as one HTML page (``tabinv lesson run``): its text, code, outputs and
figures, and the published figures beside the values this run computed.

Markdown cells go through markdown-it with raw HTML turned off; every output is shown as
escaped text (``text/plain``) or an embedded PNG, never as HTML a cell produced; no script,
no external resource.
"""

from __future__ import annotations

from typing import Any

from ..text import html_text, printable
from .runner import LessonRun

__all__ = ["lesson_page"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1b1b1b}
pre{background:#f5f5f5;padding:.6rem;overflow-x:auto;border-radius:4px}
pre.code{border-left:3px solid #4a6fa5}
pre.out{border-left:3px solid #999;background:#fbfbfb}
table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
img{max-width:100%}
.no{color:#a40000;font-weight:bold}
"""


def lesson_page(run: LessonRun) -> str:
    """The HTML page of an executed lesson."""
    from markdown_it import MarkdownIt

    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    lesson = run.lesson
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
             f"img-src data:; style-src 'unsafe-inline'\">"
             f"<title>Lesson {lesson.number}: {html_text(lesson.title)}</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<p>tabinv course kit, lesson {lesson.number} of {len(_all())}: about "
             f"{lesson.minutes} minutes in class; this page was executed in "
             f"{run.seconds:.1f} s.</p>"]
    table = _reproduced(run)  # after the lesson's own title and introduction
    for cell in run.notebook.cells:
        if cell.cell_type == "markdown":
            parts.append(markdown.render(cell.source))
            parts.append(table)
            table = ""
        elif cell.cell_type == "code":
            parts.append(f"<pre class='code'><code>{html_text(cell.source)}</code></pre>")
            parts.extend(_output(output) for output in cell.get("outputs", ()))
    parts.extend((table, "</body></html>\n"))
    return "\n".join(parts)


def _all() -> tuple[Any, ...]:
    from .catalog import lessons
    return lessons()


def _reproduced(run: LessonRun) -> str:
    rows = run.reproduced()
    if not rows:
        return ""
    lines = ["<h2>Published figures, reproduced</h2>", "<table><tr><th>figure</th>"
             "<th>published</th><th>this run</th><th>within</th><th>source</th></tr>"]
    for row in rows:
        value = "not computed" if row["value"] is None else f"{row['value']:.3f}"
        agrees = "yes" if row["agrees"] else "<span class='no'>no</span>"
        lines.append(f"<tr><td>{html_text(row['what'])}</td><td>{row['published']:.3f}</td>"
                     f"<td>{value}</td><td>&plusmn;{row['tolerance']:.3f}: {agrees}</td>"
                     f"<td>{html_text(row['source'])}</td></tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _output(output: Any) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return _pre(output.get("text", ""))
    if kind == "error":
        text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
        return _pre(text)
    data = output.get("data") or {}
    if "image/png" in data:
        png = "".join(str(data["image/png"]).split())
        if png.replace("+", "").replace("/", "").replace("=", "").isalnum():
            return f"<p><img alt='figure' src='data:image/png;base64,{png}'></p>"
    if "text/plain" in data:
        return _pre(data["text/plain"])
    return ""


def _pre(text: Any) -> str:
    """Output text, escaped (control characters shown as escapes, newlines kept)."""
    return f"<pre class='out'>{html_text(printable(text, keep=chr(10)))}</pre>"
