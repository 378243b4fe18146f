"""The HTTP layer: a JSON API under /api/v1 and the web pages, in one app."""
