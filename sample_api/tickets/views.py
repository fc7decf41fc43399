"""Order endpoints: every price of an order, or only the prices valid today."""

from rest_framework import viewsets

from drf_autoprefetch import AutoPrefetchMixin
from tickets.models import Order
from tickets.serializers import ActiveOrderSerializer, OrderReceiptSerializer, OrderSerializer


class OrderViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Order.objects.all()
    serializer_class = OrderSerializer


class OrderReceiptViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """Orders as receipts: method fields the planner reads, with no hint."""

    queryset = Order.objects.all()
    serializer_class = OrderReceiptSerializer


class ActiveOrderViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    """The same orders, each with the prices valid today (a filtered ``Prefetch`` hint)."""

    queryset = Order.objects.all()
    serializer_class = ActiveOrderSerializer
