"""The weekly status report rendered: Markdown from a template, SVG charts, HTML."""
