"""Order endpoints: every price of an order, or only the prices valid today."""

from rest_framework import viewsets

from drf_autoprefetch import AutoPrefetchMixin
from tickets.models import Order
from tickets.serializers import ActiveOrderSerializer, OrderSerializer


class OrderViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Order.objects.all()
    serializer_class = OrderSerializer


class ActiveOrderViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """The same orders, each with the prices valid today (a filtered ``Prefetch`` hint)."""

    queryset = Order.objects.all()
    serializer_class = ActiveOrderSerializer
