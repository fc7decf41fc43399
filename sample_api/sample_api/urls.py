"""URLs of the sample API: one router, every viewset browsable from its root.

The function view and the ``APIView`` under ``library/`` sit beside the router; the
room websocket is routed in ``sample_api.asgi``.
"""

from django.conf import settings
from django.urls import include, path
from rest_framework.routers import DefaultRouter

from chat.views import ChatRoomViewSet
from library.views import (
    AuthorViewSet,
    BookViewSet,
    FlexibleBookViewSet,
    PublisherBooksView,
    PublisherViewSet,
    recent_books,
)
from tickets.views import ActiveOrderViewSet, OrderReceiptViewSet, OrderViewSet

router = DefaultRouter()
router.register("books", BookViewSet)
router.register("books-flexible", FlexibleBookViewSet, basename="flexible-book")
router.register("authors", AuthorViewSet)
router.register("publishers", PublisherViewSet)
router.register("orders", OrderViewSet)
router.register("orders-active", ActiveOrderViewSet, basename="active-order")
router.register("receipts", OrderReceiptViewSet, basename="receipt")
router.register("rooms", ChatRoomViewSet)

urlpatterns = [
    path("", include(router.urls)),
    path("library/recent-books/", recent_books, name="recent-books"),
    path(
        "library/publishers/<int:pk>/books/", PublisherBooksView.as_view(), name="publisher-books"
    ),
    path("api-auth/", include("rest_framework.urls")),
]

if settings.TOOLBAR:
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()
