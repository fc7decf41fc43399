"""A deep tree (companies > divisions > teams > members > city) and a wide table.

Every model orders by a stable key, so a response has one exact byte form whatever
loads it.
"""

from django.db import models


class Country(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class City(models.Model):
    name = models.CharField(max_length=100)
    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="cities")

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    name = models.CharField(max_length=100)
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="people")

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class Company(models.Model):
    """Level 0: a to-one (country) and a to-many (divisions)."""

    name = models.CharField(max_length=100)
    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="companies")

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class Division(models.Model):
    """Level 1: a to-one chain (head > city) and a to-many (teams)."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="divisions")
    name = models.CharField(max_length=100)
    head = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """Level 2: a to-one chain (lead > city) and a many-to-many (members)."""

    division = models.ForeignKey(Division, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    lead = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    members = models.ManyToManyField(Person, related_name="teams")

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class Document(models.Model):
    """Twenty columns, one of them a large text; the serializer reads three."""

    title = models.CharField(max_length=200)
    code = models.CharField(max_length=20)
    status = models.CharField(max_length=20)
    kind = models.CharField(max_length=20)
    priority = models.IntegerField()
    score = models.FloatField()
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    created = models.DateTimeField()
    updated = models.DateTimeField()
    owner_name = models.CharField(max_length=100)
    owner_email = models.EmailField()
    region = models.CharField(max_length=50)
    language = models.CharField(max_length=10)
    version = models.IntegerField()
    checksum = models.CharField(max_length=64)
    flags = models.IntegerField()
    archived = models.BooleanField()
    summary = models.CharField(max_length=500)
    body = models.TextField()

    class Meta:
        ordering = ("title", "id")

    def __str__(self) -> str:
        return self.title


class Note(models.Model):
    """The column-pruning set: a large text the serializer never reads."""

    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    priority = models.IntegerField()
    body = models.TextField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return str(self.title)


class Payload(models.Model):
    """The column-pruning set: a JSON document the serializer never reads."""

    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    priority = models.IntegerField()
    data = models.JSONField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return str(self.title)


class Event(models.Model):
    """The column-pruning set: timestamps the serializer never reads."""

    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20)
    priority = models.IntegerField()
    created = models.DateTimeField()
    updated = models.DateTimeField()
    started = models.DateTimeField()
    ended = models.DateTimeField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return str(self.title)


class Reading(models.Model):
    """The column-pruning set: narrow numbers only, two of them never read."""

    sensor = models.IntegerField()
    value = models.IntegerField()
    minimum = models.IntegerField()
    maximum = models.IntegerField()
    count = models.IntegerField()
    flags = models.IntegerField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return str(self.sensor)


class Product(models.Model):
    """The fan-in sweep's target: many basket lines share few products."""

    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.name


class Basket(models.Model):
    """The fan-in sweep's root: ten lines each."""

    label = models.CharField(max_length=100)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.label


class Line(models.Model):
    basket = models.ForeignKey(Basket, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    quantity = models.IntegerField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"
