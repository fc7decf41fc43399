"""Programs, their prices over time, customers and the orders they place."""

from django.db import models
from django.db.models import Prefetch, Q
from django.db.models.functions import Cast, Now
from django.utils.functional import cached_property

from drf_autoprefetch import hints

# "Today" as the database sees it, evaluated by each query: never a date frozen at import.
TODAY = Cast(Now(), output_field=models.DateField())
ACTIVE = Q(from_date__lte=TODAY, to_date__gte=TODAY)


class Program(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class Price(models.Model):
    """The price of a program between two dates, both included."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="prices")
    from_date = models.DateField()
    to_date = models.DateField()
    amount = models.DecimalField(max_digits=8, decimal_places=2)

    class Meta:
        ordering = ("from_date", "id")

    def __str__(self) -> str:
        return f"{self.amount} from {self.from_date} to {self.to_date}"

    @property
    def line(self) -> str:
        """A receipt line: the program's name and the amount."""
        return f"{self.program}: {self.amount}"


class Customer(models.Model):
    name = models.CharField(max_length=100)
    email = models.EmailField()

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class Order(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PLACED = "placed", "Placed"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    items = models.ManyToManyField(Price, related_name="orders", blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"Order {self.pk} ({self.state})"

    @cached_property
    @hints(
        prefetch_related=[
            Prefetch("items", queryset=Price.objects.filter(ACTIVE), to_attr="active_prices")
        ]
    )
    def active_prices(self) -> list[Price]:
        """Prices of this order valid today (prefetched into this attribute when optimized)."""
        return list(self.items.filter(ACTIVE))
