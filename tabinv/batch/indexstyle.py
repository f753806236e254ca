"""The batch index page's stylesheet: readable on a 390 px phone, a 1280 px screen and
paper (A4 and Letter), with no script and nothing loaded from elsewhere.

Below 760 px the tables stack: each row becomes a card whose cells are labelled by
their column (``data-label``), so no column is cut off or scrolls sideways. Intervals
never wrap on screen (``.ci``). Printed, the tables keep their columns in a smaller font
(an interval's value and its bracket may then sit on two lines, the bracket never
split) and the links lose their colour.
"""

from __future__ import annotations

__all__ = ["NARROW", "STYLE"]

#: the widest viewport (CSS px) at which the tables stack into cards
NARROW = 759

STYLE = f"""
:root {{ color-scheme: light; }}
*, *::before, *::after {{ box-sizing: border-box; }}
body {{ font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: #1d232a; background: #fff; margin: 0; }}
main {{ max-width: 80rem; margin: 0 auto; padding: 1.2rem 1.5rem 3rem; }}
h1 {{ font-size: 1.6rem; margin: 0.3rem 0 0.6rem; line-height: 1.25; }}
h2 {{ font-size: 1.25rem; margin: 2rem 0 0.6rem; padding-bottom: 0.2rem;
     border-bottom: 2px solid #d6dde4; }}
h1, h2, p, li, td.free {{ overflow-wrap: anywhere; }}
td.free {{ min-width: 5rem; }}
td.name {{ min-width: 8rem; }}
td .badge {{ white-space: normal; border-radius: 0.4rem; }}
p, li {{ max-width: 56rem; }}
code {{ font: 0.88em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background: #f1f4f7; padding: 0 0.25em; border-radius: 3px;
       overflow-wrap: anywhere; }}
a {{ color: #1f5f99; }}
.note {{ font-size: 0.9rem; color: #4a5663; }}
.summary {{ border: 2px solid #1f5f99; border-radius: 6px; padding: 0.8rem 1.1rem;
           margin: 0.8rem 0 1.2rem; background: #f4f8fc; max-width: 60rem; }}
.summary h2 {{ margin: 0 0 0.5rem; border: 0; font-size: 1.15rem; padding: 0; }}
.summary p {{ margin: 0.45rem 0; }}
.summary ul {{ margin: 0.3rem 0; padding-left: 1.2rem; }}
.label {{ font-weight: 600; }}
.badge {{ display: inline-block; white-space: nowrap; font-size: 0.8rem; font-weight: 600;
         line-height: 1.3; padding: 0.05rem 0.45rem; border-radius: 999px;
         border: 1px solid currentColor; text-decoration: none; }}
.b-leaks {{ color: #9c2f23; background: #fdecea; }}
.b-inconclusive {{ color: #7a4f00; background: #fff4d6; }}
.b-no-measurable-leakage {{ color: #1a6b3c; background: #e8f5ec; }}
.b-failed, .b-not-measured {{ color: #4a5663; background: #eef1f4; }}
.ci {{ white-space: nowrap; font-variant-numeric: tabular-nums; }}
.ci .range {{ color: #5b6774; }}
table {{ border-collapse: collapse; font-size: 0.88rem; width: 100%; }}
th, td {{ padding: 0.3rem 0.5rem; border-bottom: 1px solid #e3e8ed; text-align: left;
         vertical-align: top; }}
th {{ background: #f1f4f7; font-weight: 600; }}
td {{ font-variant-numeric: tabular-nums; }}
td.num {{ text-align: right; }}
tbody tr:nth-child(even) td {{ background: #fafbfc; }}
td small {{ color: #4a5663; }}
.failed {{ color: #9c2f23; }}
ul.glossary {{ padding-left: 1.2rem; }}
ul.glossary li {{ margin: 0.25rem 0; }}
ul.glossary li:target {{ background: #fff7d6; }}
@media screen and (max-width: {NARROW}.98px) {{
  main {{ padding: 0.8rem 0.8rem 2.5rem; }}
  h1 {{ font-size: 1.3rem; }}
  .summary {{ padding: 0.6rem 0.8rem; }}
  table, thead, tbody, tr, th, td {{ display: block; width: 100%; }}
  thead {{ position: absolute; width: 1px; height: 1px; overflow: hidden;
          clip: rect(0 0 0 0); }}
  tr {{ border: 1px solid #d6dde4; border-radius: 4px; margin: 0 0 0.6rem;
       padding: 0.2rem 0.5rem; }}
  td {{ border: 0; padding: 0.15rem 0; display: grid;
       grid-template-columns: minmax(6.5rem, 38%) minmax(0, 1fr); gap: 0.6rem; }}
  td.num {{ text-align: left; }}
  td.free, td.name {{ min-width: 0; }}
  td::before {{ content: attr(data-label); font-weight: 600; color: #4a5663; }}
  td:empty {{ display: none; }}
  tbody tr:nth-child(even) td {{ background: none; }}
}}
@page {{ margin: 15mm; }}
@media print {{
  body {{ font-size: 9.5pt; }}
  main {{ max-width: none; padding: 0; }}
  .summary {{ break-inside: avoid; background: none; }}
  table {{ font-size: 7pt; table-layout: auto; }}
  th, td {{ padding: 0.12rem 0.2rem; }}
  td.free, td.name {{ min-width: 4rem; }}
  .ci, .badge {{ white-space: normal; }}
  .ci .range {{ white-space: nowrap; }}
  tr {{ break-inside: avoid; }}
  h2 {{ break-after: avoid; }}
  a {{ color: inherit; text-decoration: none; }}
}}
"""
