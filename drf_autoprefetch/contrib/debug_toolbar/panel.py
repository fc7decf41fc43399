"""``AutoPrefetchPanel``: what drf_autoprefetch did for one request."""

from __future__ import annotations

from typing import Any

from debug_toolbar.panels import Panel

from drf_autoprefetch.contrib.debug_toolbar.summary import summarize
from drf_autoprefetch.observe import Report, observing

__all__ = ["AutoPrefetchPanel"]


class AutoPrefetchPanel(Panel):
    """The views and serializers optimized during the request, their plans (what was
    inferred or hinted), and every query marked planned (the plan node it loads) or
    unplanned (the serializer field that ran it, and the ``@hints`` that would plan it).

    While the panel is enabled, optimized serializers render in recording strict mode
    (a query is never refused, only tied to its field).
    """

    title = "Prefetch plans"
    template = "drf_autoprefetch/debug_toolbar/panel.html"

    def process_request(self, request: Any) -> Any:
        with observing() as report:
            response = super().process_request(request)
        self._report = report
        return response

    def generate_stats(self, request: Any, response: Any) -> None:
        report: Report = getattr(self, "_report", None) or Report()
        self.record_stats(summarize(report))

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()
        if not stats:
            return ""
        plans = len(stats["plans"])
        counts = stats["counts"]
        text = f"{plans} plan{'s' if plans != 1 else ''}, {counts['planned']} planned"
        if counts["unplanned"]:
            text += f", {counts['unplanned']} unplanned"
        return text
