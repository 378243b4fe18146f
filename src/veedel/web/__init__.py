"""Server-rendered pages (Jinja2 + HTMX, charts as Vega-Lite specs)."""
