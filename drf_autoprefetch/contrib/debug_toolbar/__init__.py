"""A django-debug-toolbar panel: the plans of each request and what its queries were.

Add ``"drf_autoprefetch.contrib.debug_toolbar.AutoPrefetchPanel"`` to
``DEBUG_TOOLBAR_PANELS``. Importing :mod:`drf_autoprefetch` never imports this module
(nor the toolbar).
"""

from drf_autoprefetch.contrib.debug_toolbar.panel import AutoPrefetchPanel

__all__ = ["AutoPrefetchPanel"]
