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


class ActiveOrderSerializer(serializers.ModelSerializer):
    """An order with only the prices valid today, read from ``Order.active_prices``."""

    customer = CustomerSerializer(read_only=True)
    active_prices = PriceSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = ("id", "state", "customer", "active_prices")
