"""A small REST API whose nested endpoints drf_autoprefetch optimizes."""
