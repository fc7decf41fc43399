"""A view declaring its queryset: the checks know what the rows carry."""

from rest_framework.routers import SimpleRouter

from tests.test_provided import StaticHeavyItemsViewSet

router = SimpleRouter()
router.register("static", StaticHeavyItemsViewSet, basename="static")
urlpatterns = router.urls
