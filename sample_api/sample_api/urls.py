"""URLs of the sample API: one router, every endpoint browsable from its root."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from chat.views import ChatRoomViewSet
from library.views import AuthorViewSet, BookViewSet, PublisherViewSet
from tickets.views import ActiveOrderViewSet, OrderViewSet

router = DefaultRouter()
router.register("books", BookViewSet)
router.register("authors", AuthorViewSet)
router.register("publishers", PublisherViewSet)
router.register("orders", OrderViewSet)
router.register("orders-active", ActiveOrderViewSet, basename="active-order")
router.register("rooms", ChatRoomViewSet)

urlpatterns = [
    path("", include(router.urls)),
    path("api-auth/", include("rest_framework.urls")),
]
