"""Two views of one serializer: one builds its queryset, one declares it."""

from rest_framework.routers import SimpleRouter

from tests.test_provided import AnnotatingViewSet, StaticHeavyItemsViewSet

router = SimpleRouter()
router.register("annotating", AnnotatingViewSet, basename="annotating")
router.register("static", StaticHeavyItemsViewSet, basename="static")
urlpatterns = router.urls
