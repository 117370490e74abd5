"""The admin console (``/admin/``): server-rendered pages for people, not part of the JSON API
(``core``: the blueprint, sessions, CSRF; the pages and actions register their routes on import)."""

from app.http.console import actions, analytics, catalog_edit, experiments, pages, rules, settings
from app.http.console.core import console

__all__ = [
    "actions",
    "analytics",
    "catalog_edit",
    "console",
    "experiments",
    "pages",
    "rules",
    "settings",
]
