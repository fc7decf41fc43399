"""Publishers, authors with an optional profile, books and their reviews."""

from django.db import models


class Publisher(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class Author(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class AuthorProfile(models.Model):
    """At most one per author; some authors have none (``author.profile`` then raises)."""

    author = models.OneToOneField(Author, on_delete=models.CASCADE, related_name="profile")
    bio = models.TextField(blank=True)
    website = models.URLField(blank=True)

    def __str__(self) -> str:
        return f"Profile of {self.author_id}"


class Book(models.Model):
    title = models.CharField(max_length=200)
    published = models.DateField()
    # No related_name: the reverse accessor is ``publisher.book_set``.
    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE)
    authors = models.ManyToManyField(Author, related_name="books")

    class Meta:
        ordering = ("title", "id")

    def __str__(self) -> str:
        return self.title


class Review(models.Model):
    # No related_name: the reverse accessor is ``book.review_set``.
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    rating = models.PositiveSmallIntegerField()
    text = models.TextField(blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.book_id}"
