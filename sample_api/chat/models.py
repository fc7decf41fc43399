"""The project's user model, chat rooms and messages."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.functional import cached_property

from drf_autoprefetch import hints

#: How many messages a client gets when it joins a room.
LATEST_MESSAGES = 20


class User(AbstractUser):
    """Django's user with a default ordering, so participant lists come in a stable order."""

    class Meta(AbstractUser.Meta):
        ordering = ("username", "id")


class Message(models.Model):
    room = models.ForeignKey("ChatRoom", on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return self.text[:40]


# Newest first. A sliced queryset in a Prefetch takes the latest messages of each room
# (Django runs it with a window function), not the latest messages overall.
NEWEST_FIRST = ("-created_at", "-id")


class ChatRoom(models.Model):
    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_rooms"
    )
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="chat_rooms", blank=True
    )

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name

    @cached_property
    @hints(
        prefetch_related=[
            Prefetch(
                "messages",
                queryset=Message.objects.order_by(*NEWEST_FIRST)[:LATEST_MESSAGES],
                to_attr="latest_messages",
            )
        ]
    )
    def latest_messages(self) -> list[Message]:
        """The room's latest messages, newest first (prefetched here when optimized)."""
        return list(self.messages.order_by(*NEWEST_FIRST)[:LATEST_MESSAGES])
