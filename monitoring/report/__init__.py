"""The weekly status report: measured figures from the store, written as Markdown.

``data`` reads the store and the logs beside it, ``model`` turns them into figures
(pure), ``charts`` draws SVG, ``render`` formats; ``fmt`` spells every figure.
"""

from monitoring.report.data import load_inputs
from monitoring.report.model import Report, build_report
from monitoring.report.render import render_markdown, write_report

__all__ = ["Report", "build_report", "load_inputs", "render_markdown", "write_report"]
