"""The room websocket, ``ws/rooms/<id>/``: the room on joining, then its new messages.

Messages a client receives (JSON objects with a ``type``):

- ``{"type": "room", "room": {...}}`` when it joins and when it asks ``{"action": "refresh"}``:
  the room, its owner, participants and latest messages (``ChatRoomSnapshotSerializer``).
- ``{"type": "message", "message": {...}}`` when anyone in the room posts
  ``{"action": "post", "text": "..."}`` (the owner and the participants may post).
- ``{"type": "error", "detail": ...}`` when a request is refused.

An unknown room is refused with the close code 4404.
"""

from __future__ import annotations

import json
from typing import Any

from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer
from django.db.models import Q
from rest_framework.utils.encoders import JSONEncoder

from chat.models import ChatRoom
from chat.serializers import ChatRoomSnapshotSerializer, MessageSerializer

__all__ = ["ROOM_NOT_FOUND", "RoomConsumer"]

#: The close code of a connection to a room that does not exist.
ROOM_NOT_FOUND = 4404


class RoomConsumer(JsonWebsocketConsumer):
    """Pushes the room when a client joins, and relays what its members post."""

    room_id: int
    group: str

    @classmethod
    def encode_json(cls, content: Any) -> str:
        # DRF's encoder, so a push is the JSON an HTTP response would carry.
        return json.dumps(content, cls=JSONEncoder)

    def connect(self) -> None:
        self.room_id = self.scope["url_route"]["kwargs"]["room_id"]
        self.group = f"room-{self.room_id}"
        room = self.snapshot()
        if room is None:
            self.close(code=ROOM_NOT_FOUND)
            return
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.groups.append(self.group)  # left again on disconnect
        self.accept()
        self.send_json({"type": "room", "room": room})

    def snapshot(self) -> dict[str, Any] | None:
        """The room as the client sees it, or ``None`` if it no longer exists.

        ``ChatRoomSnapshotSerializer`` is ``@auto_prefetch``: given this QuerySet with
        ``many=True`` it adds the joins and prefetches itself, three queries in all.
        """
        rooms = ChatRoom.objects.filter(pk=self.room_id)
        data = ChatRoomSnapshotSerializer(rooms, many=True).data
        return data[0] if data else None

    def receive_json(self, content: Any, **kwargs: Any) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "refresh":
            room = self.snapshot()
            if room is None:
                self.close(code=ROOM_NOT_FOUND)
            else:
                self.send_json({"type": "room", "room": room})
        elif action == "post":
            self.post(content)
        else:
            self.error('Send {"action": "refresh"} or {"action": "post", "text": "..."}.')

    def post(self, content: dict[str, Any]) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            self.error("Log in to post in this room.")
            return
        members = Q(owner=user) | Q(participants=user)
        if not ChatRoom.objects.filter(members, pk=self.room_id).exists():
            self.error("Only the owner and the participants of this room may post in it.")
            return
        message = MessageSerializer(data={"text": content.get("text")})
        if not message.is_valid():
            self.error(message.errors)
            return
        message.save(room_id=self.room_id, author=user)
        event = {"type": "chat.message", "message": message.data}
        async_to_sync(self.channel_layer.group_send)(self.group, event)

    def chat_message(self, event: dict[str, Any]) -> None:
        """A message posted in the room, sent to every client in it."""
        self.send_json({"type": "message", "message": event["message"]})

    def error(self, detail: Any) -> None:
        self.send_json({"type": "error", "detail": detail})
