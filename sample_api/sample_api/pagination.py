"""Pagination shared by every list endpoint."""

from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """Twenty rows a page; ``?page_size=`` asks for more (the demo asks for every row)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100_000
