"""``Order.active_prices``: a filtered Prefetch declared with ``@hints`` on a cached property."""

import datetime as dt
import json

import pytest
from django.utils import timezone
from model_bakery import baker

from demo.endpoints import ENDPOINTS, fetch
from tickets.models import Order, Price

pytestmark = pytest.mark.django_db

ACTIVE_ORDERS = next(endpoint for endpoint in ENDPOINTS if endpoint.name == "orders-active")


@pytest.fixture
def order():
    today = timezone.localdate()
    day = dt.timedelta(days=1)
    periods = {
        "ended yesterday": (today - 9 * day, today - day),
        "ends today": (today - 9 * day, today),
        "only today": (today, today),
        "starts today": (today, today + 9 * day),
        "starts tomorrow": (today + day, today + 9 * day),
    }
    prices = {
        name: baker.make(Price, from_date=start, to_date=end, amount=10)
        for name, (start, end) in periods.items()
    }
    order = baker.make(Order)
    order.items.set(prices.values())
    order.prices = prices
    return order


def active_ids(body: bytes) -> list[int]:
    return [price["id"] for price in json.loads(body)["active_prices"]]


@pytest.mark.parametrize("optimized", [True, False], ids=["optimized", "unoptimized"])
def test_active_prices_are_those_valid_today(order, optimized):
    body = fetch(ACTIVE_ORDERS, optimized=optimized, pk=order.pk)

    expected = Price.objects.filter(
        pk__in=[order.prices[name].pk for name in ("ends today", "only today", "starts today")]
    )
    assert active_ids(body) == [price.pk for price in expected]


def test_active_prices_property_computes_without_prefetch(order):
    fresh = Order.objects.get(pk=order.pk)

    assert {price.pk for price in fresh.active_prices} == {
        order.prices[name].pk for name in ("ends today", "only today", "starts today")
    }
