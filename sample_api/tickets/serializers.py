"""Serializers of the order endpoints."""

from rest_framework import serializers

from tickets.models import Customer, Order, Price, Program


class ProgramSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = ("id", "name")


class PriceSerializer(serializers.ModelSerializer):
    program = ProgramSerializer(read_only=True)

    class Meta:
        model = Price
        fields = ("id", "program", "from_date", "to_date", "amount")


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ("id", "name", "email")


class OrderSerializer(serializers.ModelSerializer):
    customer = CustomerSerializer(read_only=True)
    items = PriceSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ("id", "state", "customer", "items")


class OrderReceiptSerializer(serializers.ModelSerializer):
    """An order as a receipt: every value comes from code, planned with no hint.

    The planner reads the methods: ``lines`` and ``total`` loop over ``items``, and each
    price's ``line`` property renders its program (``Program.__str__``), so ``items`` is
    prefetched with ``program`` joined inside; ``customer`` renders ``Customer.__str__``.
    """

    state = serializers.CharField(source="get_state_display")
    customer = serializers.StringRelatedField()
    lines = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    item_count = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ("id", "state", "customer", "lines", "total", "item_count")

    def get_lines(self, order):
        return [price.line for price in order.items.all()]

    def get_total(self, order):
        return str(sum(price.amount for price in order.items.all()))

    def get_item_count(self, order):
        return order.items.count()


class ActiveOrderSerializer(serializers.ModelSerializer):
    """An order with only the prices valid today, read from ``Order.active_prices``."""

    customer = CustomerSerializer(read_only=True)
    active_prices = PriceSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ("id", "state", "customer", "active_prices")
