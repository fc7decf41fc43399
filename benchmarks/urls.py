"""The benchmarks call their views directly; no URL is routed."""

urlpatterns: list[object] = []
