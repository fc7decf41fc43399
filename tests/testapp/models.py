"""Models covering every relation kind the planner has to understand.

Geography gives a forward foreign-key chain (Passport -> Person -> Address -> City ->
Country); books give reverse foreign keys, many-to-many both ways, soft-deleted rows
and orderings; clubs give a many-to-many with an explicit ``through`` model; comments
give a generic foreign key; places give multi-table inheritance; projects, tasks, tags
and notes hide the rows of other tenants than the one a request names.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Manager
from taggit.managers import TaggableManager

from drf_autoprefetch import hints


class AliveManager(Manager):
    """Default manager that hides soft-deleted rows, as related managers will too."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted=False)


class Country(models.Model):
    code = models.CharField(max_length=8, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class City(models.Model):
    name = models.CharField(max_length=100)
    country = models.ForeignKey(Country, models.CASCADE, related_name="cities")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Address(models.Model):
    street = models.CharField(max_length=100)
    # No related_name: the reverse accessor is ``City.address_set``.
    city = models.ForeignKey(City, models.CASCADE)

    class Meta:
        # Ordered on a related model's column: prefetch order matters.
        ordering = ["city__name", "street", "id"]

    def __str__(self):
        return self.street


class Person(models.Model):
    name = models.CharField(max_length=100)
    address = models.ForeignKey(
        Address, models.SET_NULL, null=True, blank=True, related_name="residents"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    @hints(select_related=["address__city"])
    def city_name(self):
        """Reads two relations, declared with a hint."""
        if self.address is None:
            return None
        return self.address.city.name


class Passport(models.Model):
    person = models.OneToOneField(Person, models.CASCADE, related_name="passport")
    number = models.CharField(max_length=20, unique=True)
    issued_by = models.ForeignKey(Country, models.CASCADE, related_name="passports")

    class Meta:
        ordering = ["number"]

    def __str__(self):
        return self.number


class Locker(models.Model):
    number = models.PositiveIntegerField(unique=True)
    person = models.OneToOneField(
        Person, models.SET_NULL, null=True, blank=True, related_name="locker"
    )

    class Meta:
        ordering = ["number"]

    def __str__(self):
        return f"Locker {self.number}"


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    parent = models.ForeignKey(
        "self", models.CASCADE, null=True, blank=True, related_name="children"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Label(models.Model):
    name = models.CharField(max_length=50, unique=True)
    deleted = models.BooleanField(default=False)

    objects = AliveManager()
    all_objects = Manager()  # noqa: DJ012 (a second manager, not a field)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Comment(models.Model):
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    author = models.ForeignKey(Person, models.CASCADE, related_name="comments")
    text = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self):
        return self.text


class Book(models.Model):
    title = models.CharField(max_length=200)
    isbn = models.CharField(max_length=20, unique=True)
    category = models.ForeignKey(Category, models.PROTECT, related_name="books")
    editor = models.ForeignKey(
        Person, models.SET_NULL, null=True, blank=True, related_name="edited_books"
    )
    authors = models.ManyToManyField(Person, related_name="books", blank=True)
    labels = models.ManyToManyField(Label, related_name="books", blank=True)
    comments = GenericRelation(Comment)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self):
        return self.title

    @property
    def display_title(self):
        return f"{self.title} [{self.isbn}]"

    @hints(prefetch_related=["authors"])
    def author_names(self):
        return ", ".join(author.name for author in self.authors.all())

    @property
    def long_chapters(self):
        """A filtered queryset, as model code often returns one (a query per book)."""
        return self.chapters.filter(number__gt=1)

    def _chapters_from(self, number):
        return self.chapters.filter(number__gte=number)

    #: A method built from another one.
    chapters_from_two = functools.partialmethod(_chapters_from, 2)

    def _moved(self, *args, method):
        return getattr(type(self).objects, method)(self, *args)

    #: A method dispatched at run time, as django-treebeard's moved tree methods are.
    get_siblings = functools.partialmethod(_moved, method="get_siblings")

    @property
    def chapters_in_order(self):
        """The prefetched chapters when a view prefetched them, else a query of its own in
        another order (as pretalx's ``Submission.sorted_speakers``): prefetching them
        changes what it returns."""
        if "chapters" in getattr(self, "_prefetched_objects_cache", {}):
            return self.chapters.all()
        return self.chapters.order_by("number")

    def category_if_loaded(self):
        """The category's name only when the row came with it."""
        return self.category.name if Book.category.is_cached(self) else None

    @property
    def has_reviews(self):
        """From the ``listed_reviews`` a view prefetches, else a query of its own
        (Weblate's ``Unit.has_pending_changes``)."""
        if "listed_reviews" in self.__dict__:
            return bool(self.__dict__["listed_reviews"])
        return self.reviews.exists()

    def authors_if_prefetched(self):
        """The authors' names only when anything was prefetched for the row."""
        if hasattr(self, "_prefetched_objects_cache"):
            return [author.name for author in self.authors.all()]
        return []


class Chapter(models.Model):
    book = models.ForeignKey(Book, models.CASCADE, related_name="chapters")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["book", "number"], name="unique_chapter_number"),
        ]

    def __str__(self):
        return self.title


class Review(models.Model):
    book = models.ForeignKey(Book, models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(Person, models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField()
    body = models.CharField(max_length=200)
    deleted = models.BooleanField(default=False)

    objects = AliveManager()
    all_objects = Manager()  # noqa: DJ012 (a second manager, not a field)

    class Meta:
        # Descending, then on a related model's column.
        ordering = ["-rating", "reviewer__name", "id"]

    def __str__(self):
        return self.body


class Club(models.Model):
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(
        Person,
        through="Membership",
        through_fields=("club", "person"),
        related_name="clubs",
        blank=True,
    )
    comments = GenericRelation(Comment)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    person = models.ForeignKey(Person, models.CASCADE, related_name="memberships")
    # No related_name: the reverse accessor is ``Club.membership_set``.
    club = models.ForeignKey(Club, models.CASCADE)
    role = models.CharField(max_length=50)
    joined = models.DateField()
    invited_by = models.ForeignKey(
        Person, models.SET_NULL, null=True, blank=True, related_name="invitations"
    )

    class Meta:
        ordering = ["-joined", "id"]

    def __str__(self):
        return f"{self.person_id} in {self.club_id}"


class Place(models.Model):
    name = models.CharField(max_length=100)
    city = models.ForeignKey(City, models.CASCADE, related_name="places")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Restaurant(Place):
    serves_pizza = models.BooleanField(default=False)
    chef = models.ForeignKey(
        Person, models.SET_NULL, null=True, blank=True, related_name="restaurants"
    )


class Visit(models.Model):
    """A key to the parent model of a multi-table inheritance: rows prefetched for a
    restaurant hold that ``Restaurant`` as their ``place`` (pulp's signatures of keys)."""

    place = models.ForeignKey(Place, models.CASCADE, related_name="visits")
    note = models.CharField(max_length=100)

    class Meta:
        ordering = ["note", "id"]

    def __str__(self):
        return self.note


class Dish(models.Model):
    restaurant = models.ForeignKey(Restaurant, models.CASCADE, related_name="dishes")
    name = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=6, decimal_places=2)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "dishes"

    def __str__(self):
        return self.name


# --- rows scoped to a tenant read from the request ---------------------------------

#: The tenant whose rows the tenant-scoped default managers show; ``None`` shows all rows.
#: A view sets it from the request, as a multi-tenant site's middleware would.
current_tenant: ContextVar[str | None] = ContextVar("testapp_current_tenant", default=None)


class TenantManager(Manager):
    """Default manager showing the current tenant's rows, read each time a query starts."""

    def get_queryset(self):
        queryset = super().get_queryset()
        tenant = current_tenant.get()
        return queryset if tenant is None else queryset.filter(tenant=tenant)


class Project(models.Model):
    """A tenant's project: tasks (reverse FK), tags through a model, notes (generic)."""

    tenant = models.CharField(max_length=20)
    name = models.CharField(max_length=100)
    tags = models.ManyToManyField("Tag", through="ProjectTag", related_name="projects", blank=True)
    notes = GenericRelation("Note")

    objects = TenantManager()
    all_objects = Manager()  # noqa: DJ012 (a second manager, not a field)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Tag(models.Model):
    tenant = models.CharField(max_length=20)
    name = models.CharField(max_length=100)

    objects = TenantManager()
    all_objects = Manager()  # noqa: DJ012 (a second manager, not a field)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Task(models.Model):
    """Many-to-many to tags both ways; its project may belong to another tenant."""

    tenant = models.CharField(max_length=20)
    project = models.ForeignKey(Project, models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=100)
    done = models.BooleanField(default=False)
    tags = models.ManyToManyField(Tag, related_name="tasks", blank=True)
    notes = GenericRelation("Note")

    objects = TenantManager()
    all_objects = Manager()  # noqa: DJ012 (a second manager, not a field)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self):
        return self.title


class ProjectTag(models.Model):
    """The explicit ``through`` model of ``Project.tags``, scoped to a tenant too."""

    tenant = models.CharField(max_length=20)
    project = models.ForeignKey(Project, models.CASCADE)
    tag = models.ForeignKey(Tag, models.CASCADE)
    weight = models.PositiveSmallIntegerField(default=0)

    objects = TenantManager()
    all_objects = Manager()  # noqa: DJ012 (a second manager, not a field)

    class Meta:
        ordering = ["-weight", "id"]

    def __str__(self):
        return f"{self.project_id} tagged {self.tag_id}"


class Note(models.Model):
    """A generic relation target scoped to a tenant."""

    tenant = models.CharField(max_length=20)
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=200)

    objects = TenantManager()
    all_objects = Manager()  # noqa: DJ012 (a second manager, not a field)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self):
        return self.text


# -------------------------------------------------------- shapes of real applications


class Warehouse(models.Model):
    KINDS = [("hub", "Hub"), ("depot", "Depot")]

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=KINDS, default="hub")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Parcel(models.Model):
    """A non-null key without a database constraint: the row it names may be missing."""

    label = models.CharField(max_length=100)
    warehouse = models.ForeignKey(
        Warehouse, models.DO_NOTHING, db_constraint=False, related_name="parcels"
    )

    class Meta:
        ordering = ["label", "id"]

    def __str__(self):
        return self.label


class Article(models.Model):
    """Tagged with django-taggit, whose manager takes no custom prefetch queryset."""

    title = models.CharField(max_length=100)
    tags = TaggableManager(blank=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self):
        return self.title


class Recipe(models.Model):
    """No ``Meta.ordering``: rows come in the database's own order."""

    name = models.CharField(max_length=100)
    cooks = models.ManyToManyField(Person, related_name="recipes", blank=True)

    def __str__(self):
        return self.name


# ------------------------------------------------ shaped after NetBox's DCIM models


class Manufacturer(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class DeviceType(models.Model):
    manufacturer = models.ForeignKey(Manufacturer, models.PROTECT, related_name="device_types")
    model = models.CharField(max_length=100)

    class Meta:
        ordering = ["model", "id"]

    def __str__(self):
        return f"{self.manufacturer.name} {self.model}"


class IPAddress(models.Model):
    address = models.CharField(max_length=50)

    class Meta:
        ordering = ["address", "id"]

    def __str__(self):
        return self.address


class Device(models.Model):
    name = models.CharField(max_length=100, blank=True)
    device_type = models.ForeignKey(DeviceType, models.PROTECT, related_name="instances")
    site = models.ForeignKey(Warehouse, models.PROTECT, related_name="devices")
    primary_ip4 = models.ForeignKey(
        IPAddress, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    primary_ip6 = models.ForeignKey(
        IPAddress, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        if self.name:
            return self.name
        return f"{self.device_type} ({self.pk})"

    @property
    def primary_ip(self):
        return self.primary_ip6 or self.primary_ip4

    def get_parent_device(self):
        try:
            return self.parent_bay.device
        except DeviceBay.DoesNotExist:
            return None

    @property
    def enabled_interfaces(self):
        """Like NetBox's cable terminations: a list of related rows built in Python."""
        return [interface for interface in self.interfaces.all() if interface.enabled]

    @property
    def location(self):
        """Reads through a helper the planner does not follow."""
        return describe_site(self)


def describe_site(device):
    return device.site.name


class DeviceBay(models.Model):
    device = models.ForeignKey(Device, models.CASCADE, related_name="bays")
    name = models.CharField(max_length=50)
    installed_device = models.OneToOneField(
        Device, models.SET_NULL, null=True, blank=True, related_name="parent_bay"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Interface(models.Model):
    device = models.ForeignKey(Device, models.CASCADE, related_name="interfaces")
    name = models.CharField(max_length=50)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return f"{self.device} {self.name}"


class Shelf(models.Model):
    """Where manuals stand."""

    name = models.CharField(max_length=100)
    code = models.CharField(max_length=20)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Manual(models.Model):
    """Costly columns (text, JSON, timestamps) beside narrow ones: pruning pays here."""

    shelf = models.ForeignKey(Shelf, models.CASCADE, related_name="manuals")
    title = models.CharField(max_length=100)
    pages = models.PositiveIntegerField(default=0)
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    published = models.DateTimeField()
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self):
        return self.title


#: A wide row: forty text columns beside its key.
Gauge = type(
    "Gauge",
    (models.Model,),
    {
        "__module__": __name__,
        "__doc__": "A wide row: forty text columns beside its key.",
        **{f"reading_{n:02d}": models.CharField(max_length=20, default="") for n in range(40)},
    },
)

#: Sixty-two keys to wide rows: one query joining them all would read 2,542 columns from
#: 63 tables, past what SQLite (2,000 columns), PostgreSQL (1,664) and MySQL (61 tables)
#: take, as a NetBox-like ``?depth=2`` tree can.
Dashboard = type(
    "Dashboard",
    (models.Model,),
    {
        "__module__": __name__,
        "__doc__": "Sixty-two keys to wide rows (Gauge).",
        "name": models.CharField(max_length=50),
        **{
            f"gauge_{n:02d}": models.ForeignKey(Gauge, models.CASCADE, related_name="+")
            for n in range(62)
        },
    },
)


class Crate(models.Model):
    """Rows whose related rows carry more than their columns (real applications' shapes)."""

    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name

    @functools.cached_property
    def items_in_hand(self):
        """The items as a list, computed once: a prefetch ``to_attr`` may fill it."""
        return list(self.items.all())


class DoublingManager(Manager):
    """A default manager annotating its rows, as some applications' managers do."""

    def get_queryset(self):
        return super().get_queryset().annotate(double_weight=models.F("weight") * 2)


class CrateItem(models.Model):
    crate = models.ForeignKey(Crate, models.CASCADE, related_name="items")
    number = models.PositiveIntegerField(default=0)
    weight = models.PositiveIntegerField(default=0)

    objects = DoublingManager()

    class Meta:
        ordering = ["number", "id"]

    def __str__(self):
        return f"{self.crate_id}/{self.number}"


class Seal(models.Model):
    """Modoboa's mailboxes: each instance reads its parent as it is built from a row."""

    crate = models.ForeignKey(Crate, models.CASCADE, related_name="seals")
    code = models.CharField(max_length=20)

    class Meta:
        ordering = ["id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.old_label = self.label if self.crate_id else ""

    def __str__(self):
        return self.code

    @property
    def label(self):
        return self.__label(self.code)

    def __label(self, code):
        """A private method, as Modoboa's ``Mailbox.__full_address``: its name mangled."""
        return f"{self.crate.name}/{code}"


class Sticker(models.Model):
    """Keeps its status as loaded, to notice changes: code reading a column as each row
    is built."""

    crate = models.ForeignKey(Crate, models.CASCADE, related_name="stickers")
    text = models.CharField(max_length=100)
    status = models.CharField(max_length=20, default="new")
    body = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loaded_status = self.status

    def __str__(self):
        return self.text
