"""Reports: result tables and provenance, plots, GIFs, and the HTML/Markdown run report.

`provenance`, `success_table` and `success_with_ci` are light (no matplotlib); the run report
lives in `monde.report.build` and is imported only when asked for.
"""

from monde.report.tables import provenance, success_table, success_with_ci

__all__ = ["provenance", "success_table", "success_with_ci"]
