"""The catalog of well-known MCP servers: the Add dialog's third way in.

Entries are registry ``server.json`` objects, bundled in ``resources/catalog``
or, when the user turns it on, found in an online MCP Registry; both are
read the same way (serverjson). Typical use::

    entries = bundled()
    for found in search(entries, "github"):
        print(found.id, found.title, found.runs_with)
    draft = entry(entries, "memory").draft()  # the form, filled in

Errors (UserError sentences, app.core.errors): :class:`UnknownEntry` (no
entry of that id; names close ones), :class:`CatalogUnavailable` (the online
catalog could not be reached and nothing was cached).
"""

from app.core.catalog.lookup import UnknownEntry, bundled, entry, search
from app.core.catalog.names import tidy_name
from app.core.catalog.registry import CatalogUnavailable, from_registry
from app.core.catalog.serverjson import CatalogEntry, placeholder

__all__ = [
    "CatalogEntry",
    "CatalogUnavailable",
    "UnknownEntry",
    "bundled",
    "entry",
    "from_registry",
    "placeholder",
    "search",
    "tidy_name",
]
