"""One serializer per shape the planner has to handle.

Each serializer is small and named after the shape it exercises; the matrix in
``tests/test_shapes.py`` says how many queries each one should cost.
"""

from __future__ import annotations

from django.db.models import Count, Prefetch
from rest_framework import serializers

from drf_autoprefetch import hints

from .models import (
    Address,
    Book,
    Category,
    Chapter,
    City,
    Club,
    Comment,
    Country,
    Dish,
    Label,
    Locker,
    Membership,
    Passport,
    Person,
    Place,
    Restaurant,
    Review,
)

# --- building blocks ---------------------------------------------------------------


class CountrySerializer(serializers.ModelSerializer):
    class Meta:
        model = Country
        fields = ["id", "code", "name"]


class CitySerializer(serializers.ModelSerializer):
    country = CountrySerializer()

    class Meta:
        model = City
        fields = ["id", "name", "country"]


class AddressSerializer(serializers.ModelSerializer):
    city = CitySerializer()

    class Meta:
        model = Address
        fields = ["id", "street", "city"]


class PersonBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Person
        fields = ["id", "name"]


class PersonWithAddressSerializer(serializers.ModelSerializer):
    """Person -> Address -> City -> Country: a three-hop forward chain, nullable at the top."""

    address = AddressSerializer(allow_null=True)

    class Meta:
        model = Person
        fields = ["id", "name", "address"]


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name"]


class ChapterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Chapter
        fields = ["id", "number", "title"]


# --- forward foreign keys and one-to-one -------------------------------------------


class FlatCountrySerializer(serializers.ModelSerializer):
    class Meta:
        model = Country
        fields = ["id", "code", "name"]


class PassportSerializer(serializers.ModelSerializer):
    """Passport -> Person -> Address -> City -> Country, and Passport -> Country again."""

    person = PersonWithAddressSerializer()
    issued_by = CountrySerializer()

    class Meta:
        model = Passport
        fields = ["id", "number", "person", "issued_by"]


class PassportBriefSerializer(serializers.ModelSerializer):
    issued_by = CountrySerializer()

    class Meta:
        model = Passport
        fields = ["id", "number", "issued_by"]


class LockerBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Locker
        fields = ["id", "number"]


class PersonWithPassportSerializer(serializers.ModelSerializer):
    """Reverse one-to-one (always there) and nullable reverse one-to-one (often missing)."""

    passport = PassportBriefSerializer(allow_null=True)
    locker = LockerBriefSerializer(allow_null=True)

    class Meta:
        model = Person
        fields = ["id", "name", "passport", "locker"]


class LockerSerializer(serializers.ModelSerializer):
    """Nullable forward one-to-one."""

    person = PersonWithAddressSerializer(allow_null=True)

    class Meta:
        model = Locker
        fields = ["id", "number", "person"]


class BookEditorSerializer(serializers.ModelSerializer):
    """Nullable forward foreign key, and a forward foreign key to a self-referencing model."""

    editor = PersonWithAddressSerializer(allow_null=True)
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "editor", "category"]


# --- relational fields -------------------------------------------------------------


class BookPrimaryKeySerializer(serializers.ModelSerializer):
    """A pk-only forward foreign key needs no join."""

    category = serializers.PrimaryKeyRelatedField(read_only=True)
    editor = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "category", "editor"]


class BookPrimaryKeyManySerializer(serializers.ModelSerializer):
    """Primary keys of a many-to-many still need the rows (one prefetch), not a join."""

    category = serializers.PrimaryKeyRelatedField(read_only=True)
    authors = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "category", "authors"]


class BookSlugSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    labels = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "category", "labels"]


class CityStringSerializer(serializers.ModelSerializer):
    country = serializers.StringRelatedField()
    address_set = serializers.StringRelatedField(many=True)

    class Meta:
        model = City
        fields = ["id", "name", "country", "address_set"]


class CityHyperlinkedByPkSerializer(serializers.ModelSerializer):
    """Hyperlinks looked up by pk: no join, no query."""

    url = serializers.HyperlinkedIdentityField(view_name="city-detail")
    country = serializers.HyperlinkedRelatedField(view_name="country-detail", read_only=True)

    class Meta:
        model = City
        fields = ["url", "id", "name", "country"]


class CityHyperlinkedByCodeSerializer(serializers.ModelSerializer):
    """A hyperlink looked up by another column needs the related row."""

    country = serializers.HyperlinkedRelatedField(
        view_name="country-by-code", lookup_field="code", read_only=True
    )

    class Meta:
        model = City
        fields = ["id", "name", "country"]


class CountryHyperlinkedManySerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="country-detail")
    cities = serializers.HyperlinkedRelatedField(view_name="city-detail", many=True, read_only=True)

    class Meta:
        model = Country
        fields = ["url", "code", "cities"]


class PersonHyperlinkedSerializer(serializers.HyperlinkedModelSerializer):
    """A HyperlinkedModelSerializer: its forward relations become pk-looked-up links."""

    class Meta:
        model = Person
        fields = ["url", "name", "address"]
        extra_kwargs = {
            "url": {"view_name": "person-detail"},
            "address": {"view_name": "address-detail"},
        }


# --- to-many -----------------------------------------------------------------------


class BookChaptersSerializer(serializers.ModelSerializer):
    chapters = ChapterSerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "title", "chapters"]


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = PersonWithAddressSerializer()

    class Meta:
        model = Review
        fields = ["id", "rating", "body", "reviewer"]


class BookReviewsSerializer(serializers.ModelSerializer):
    """Reverse foreign key to a soft-deleting model, with to-one relations below it."""

    reviews = ReviewSerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "title", "reviews"]


class BookAuthorsSerializer(serializers.ModelSerializer):
    """Forward many-to-many, and a soft-deleting many-to-many."""

    authors = PersonWithAddressSerializer(many=True)
    labels = LabelSerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "title", "authors", "labels"]


class BookTitleSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "category"]


class PersonBooksSerializer(serializers.ModelSerializer):
    """Reverse many-to-many, with a to-one relation below it."""

    books = BookTitleSerializer(many=True)
    edited_books = BookTitleSerializer(many=True)

    class Meta:
        model = Person
        fields = ["id", "name", "books", "edited_books"]


class LabelBooksSerializer(serializers.ModelSerializer):
    """Reverse side of a many-to-many whose own model soft-deletes."""

    books = BookTitleSerializer(many=True)

    class Meta:
        model = Label
        fields = ["id", "name", "books"]


class CityAddressesSerializer(serializers.ModelSerializer):
    """Reverse foreign key without related_name (``address_set``)."""

    class AddressResidentsSerializer(serializers.ModelSerializer):
        residents = PersonBriefSerializer(many=True)

        class Meta:
            model = Address
            fields = ["id", "street", "residents"]

    address_set = AddressResidentsSerializer(many=True)
    country = CountrySerializer()

    class Meta:
        model = City
        fields = ["id", "name", "country", "address_set"]


# --- deep trees mixing to-one and to-many ------------------------------------------


class ResidentSerializer(serializers.ModelSerializer):
    passport = PassportBriefSerializer(allow_null=True)

    class Meta:
        model = Person
        fields = ["id", "name", "passport"]


class AddressWithResidentsSerializer(serializers.ModelSerializer):
    residents = ResidentSerializer(many=True)

    class Meta:
        model = Address
        fields = ["id", "street", "residents"]


class CityWithAddressesSerializer(serializers.ModelSerializer):
    address_set = AddressWithResidentsSerializer(many=True)

    class Meta:
        model = City
        fields = ["id", "name", "address_set"]


class CountryTreeSerializer(serializers.ModelSerializer):
    """Country -> cities -> addresses -> residents -> passport -> issuing country."""

    cities = CityWithAddressesSerializer(many=True)

    class Meta:
        model = Country
        fields = ["id", "name", "cities"]


class BookWithAuthorsSerializer(serializers.ModelSerializer):
    authors = PersonWithAddressSerializer(many=True)
    editor = PersonBriefSerializer(allow_null=True)

    class Meta:
        model = Book
        fields = ["id", "title", "authors", "editor"]


class CategoryParentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]


class CategoryBooksSerializer(serializers.ModelSerializer):
    """Category -> parent; Category -> books -> (authors -> address -> city, editor)."""

    parent = CategoryParentSerializer(allow_null=True)
    books = BookWithAuthorsSerializer(many=True)

    class Meta:
        model = Category
        fields = ["id", "name", "parent", "books"]


class ClubMembershipSerializer(serializers.ModelSerializer):
    person = PersonWithAddressSerializer()
    invited_by = PersonBriefSerializer(allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "role", "joined", "person", "invited_by"]


class ClubMembershipsSerializer(serializers.ModelSerializer):
    """The rows of an explicit ``through`` model, with its extra columns and own FK."""

    memberships = ClubMembershipSerializer(source="membership_set", many=True)

    class Meta:
        model = Club
        fields = ["id", "name", "memberships"]


class ClubMembersSerializer(serializers.ModelSerializer):
    """A many-to-many through an explicit model, read from the forward side."""

    members = PersonWithAddressSerializer(many=True)

    class Meta:
        model = Club
        fields = ["id", "name", "members"]


class PersonClubsSerializer(serializers.ModelSerializer):
    """A many-to-many through an explicit model, read from the reverse side."""

    class ClubBriefSerializer(serializers.ModelSerializer):
        class Meta:
            model = Club
            fields = ["id", "name"]

    clubs = ClubBriefSerializer(many=True)
    memberships = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Person
        fields = ["id", "name", "clubs", "memberships"]


# --- Meta.depth --------------------------------------------------------------------


class BookDepthSerializer(serializers.ModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title", "category", "editor", "authors", "labels"]
        depth = 2


# --- source= -----------------------------------------------------------------------


class PersonDottedSourceSerializer(serializers.ModelSerializer):
    """Dotted sources walking three forward relations, to a column and to a serializer."""

    city = serializers.CharField(source="address.city.name", read_only=True, allow_null=True)
    country_code = serializers.CharField(
        source="address.city.country.code", read_only=True, allow_null=True
    )
    country = CountrySerializer(source="address.city.country", read_only=True, allow_null=True)

    class Meta:
        model = Person
        fields = ["id", "name", "city", "country_code", "country"]


class ReviewDottedSourceSerializer(serializers.ModelSerializer):
    """Dotted sources starting with a relation and ending on a nested to-many."""

    category = serializers.CharField(source="book.category.name", read_only=True)
    book_chapters = ChapterSerializer(source="book.chapters", many=True, read_only=True)

    class Meta:
        model = Review
        fields = ["id", "rating", "category", "book_chapters"]


class PersonLocationSerializer(serializers.ModelSerializer):
    address = AddressSerializer(allow_null=True)
    passport = PassportBriefSerializer(allow_null=True)

    class Meta:
        model = Person
        fields = ["address", "passport"]


class PersonStarSourceSerializer(serializers.ModelSerializer):
    """``source="*"`` hands the same row to a nested serializer."""

    location = PersonLocationSerializer(source="*", read_only=True)

    class Meta:
        model = Person
        fields = ["id", "name", "location"]


class BookPropertySourceSerializer(serializers.ModelSerializer):
    """A property reading only the row's own columns costs nothing."""

    display_title = serializers.CharField(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "display_title"]


class PersonHintedPropertySerializer(serializers.ModelSerializer):
    """A property reading relations, declared with ``@hints(select_related=...)``."""

    city_name = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Person
        fields = ["id", "name", "city_name"]


class BookHintedMethodSourceSerializer(serializers.ModelSerializer):
    """A model method as ``source``, declared with ``@hints(prefetch_related=...)``."""

    author_names = serializers.CharField(read_only=True)

    class Meta:
        model = Book
        fields = ["id", "title", "author_names"]


# --- write_only --------------------------------------------------------------------


class BookWriteOnlySerializer(serializers.ModelSerializer):
    """Write-only relations are never read when rendering, so never fetched."""

    authors = serializers.PrimaryKeyRelatedField(
        many=True, write_only=True, queryset=Person.objects.all()
    )
    editor = PersonWithAddressSerializer(write_only=True, required=False)
    category = serializers.SlugRelatedField(
        slug_field="slug", write_only=True, queryset=Category.objects.all()
    )

    class Meta:
        model = Book
        fields = ["id", "title", "authors", "editor", "category"]


# --- recursion ---------------------------------------------------------------------


class CategoryLeafSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name"]


class CategoryChildSerializer(serializers.ModelSerializer):
    children = CategoryLeafSerializer(many=True)

    class Meta:
        model = Category
        fields = ["id", "name", "children"]


class CategoryTwoLevelsSerializer(serializers.ModelSerializer):
    """Children of children, spelled out: the same model at three depths."""

    parent = CategoryLeafSerializer(allow_null=True)
    children = CategoryChildSerializer(many=True)

    class Meta:
        model = Category
        fields = ["id", "name", "parent", "children"]


class CategoryTreeSerializer(serializers.ModelSerializer):
    """A serializer that nests itself: children of children, as deep as the data goes."""

    class Meta:
        model = Category
        fields = ["id", "name", "children"]

    def get_fields(self):
        fields = super().get_fields()
        fields["children"] = CategoryTreeSerializer(many=True, read_only=True)
        return fields


# --- generic relations -------------------------------------------------------------


class CommentSerializer(serializers.ModelSerializer):
    author = PersonBriefSerializer()

    class Meta:
        model = Comment
        fields = ["id", "text", "author"]


class BookCommentsSerializer(serializers.ModelSerializer):
    """A GenericRelation is a to-many: one prefetch, joined to the comment's author."""

    comments = CommentSerializer(many=True)

    class Meta:
        model = Book
        fields = ["id", "title", "comments"]


class ClubCommentsSerializer(serializers.ModelSerializer):
    comments = CommentSerializer(many=True)
    members = PersonBriefSerializer(many=True)

    class Meta:
        model = Club
        fields = ["id", "name", "comments", "members"]


class CommentTargetField(serializers.RelatedField):
    """Renders whatever a comment points at, from the target's own columns."""

    def to_representation(self, value):
        if isinstance(value, Book):
            return {"type": "book", "id": value.pk, "title": value.title}
        if isinstance(value, Club):
            return {"type": "club", "id": value.pk, "name": value.name}
        raise TypeError(f"Unexpected comment target {value!r}")


class CommentWithTargetSerializer(serializers.ModelSerializer):
    """A GenericForeignKey: one query per content type it points at."""

    content_object = CommentTargetField(read_only=True)
    author = PersonBriefSerializer()

    class Meta:
        model = Comment
        fields = ["id", "text", "author", "content_object"]


# --- multi-table inheritance -------------------------------------------------------


class DishSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dish
        fields = ["id", "name", "price"]


class RestaurantSerializer(serializers.ModelSerializer):
    """A child model: a relation declared on the parent (city) and on the child (chef, dishes)."""

    city = CitySerializer()
    chef = PersonWithAddressSerializer(allow_null=True)
    dishes = DishSerializer(many=True)

    class Meta:
        model = Restaurant
        fields = ["id", "name", "serves_pizza", "city", "chef", "dishes"]


class RestaurantBriefSerializer(serializers.ModelSerializer):
    chef = PersonBriefSerializer(allow_null=True)

    class Meta:
        model = Restaurant
        fields = ["serves_pizza", "chef"]


class PlaceSerializer(serializers.ModelSerializer):
    """The parent model reaching its child through the reverse parent link."""

    city = serializers.StringRelatedField()
    restaurant = RestaurantBriefSerializer(allow_null=True, read_only=True)

    class Meta:
        model = Place
        fields = ["id", "name", "city", "restaurant"]


class CityPlacesSerializer(serializers.ModelSerializer):
    """Reverse foreign key to a parent model, then down to the child's own relations."""

    class PlaceWithRestaurantSerializer(serializers.ModelSerializer):
        restaurant = RestaurantBriefSerializer(allow_null=True, read_only=True)

        class Meta:
            model = Place
            fields = ["id", "name", "restaurant"]

    places = PlaceWithRestaurantSerializer(many=True)

    class Meta:
        model = City
        fields = ["id", "name", "places"]


# --- serializer method fields ------------------------------------------------------


class BookUnhintedMethodSerializer(serializers.ModelSerializer):
    """A method field with no hint: the planner must leave it alone."""

    review_count = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "review_count"]

    def get_review_count(self, obj):
        return obj.reviews.count()


class BookHintedPrefetchMethodSerializer(serializers.ModelSerializer):
    chapter_count = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "chapter_count"]

    @hints(prefetch_related=["chapters"])
    def get_chapter_count(self, obj):
        return len(obj.chapters.all())


class BookHintedSelectMethodSerializer(serializers.ModelSerializer):
    category_path = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "category_path"]

    @hints(select_related=["category__parent"])
    def get_category_path(self, obj):
        parent = obj.category.parent
        return [parent.slug if parent else None, obj.category.slug]


class BookHintedPrefetchObjectMethodSerializer(serializers.ModelSerializer):
    """A filtered ``Prefetch`` with ``to_attr``, with its own ``select_related``."""

    good_reviewers = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "good_reviewers"]

    @hints(
        prefetch_related=[
            Prefetch(
                "reviews",
                queryset=Review.objects.filter(rating__gte=4).select_related("reviewer"),
                to_attr="good_reviews",
            )
        ]
    )
    def get_good_reviewers(self, obj):
        reviews = getattr(obj, "good_reviews", None)
        if reviews is None:
            reviews = obj.reviews.filter(rating__gte=4).select_related("reviewer")
        return [review.reviewer.name for review in reviews]


class BookHintedAnnotationMethodSerializer(serializers.ModelSerializer):
    chapter_total = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = ["id", "title", "chapter_total"]

    @hints(annotate={"chapter_total": Count("chapters")})
    def get_chapter_total(self, obj):
        total = getattr(obj, "chapter_total", None)
        return obj.chapters.count() if total is None else total
