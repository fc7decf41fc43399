"""The room websocket: each push runs a fixed number of queries and equals the unoptimized data.

The tests are synchronous and drive the consumer with ``async_to_sync``. The event loop it
starts hands thread-sensitive sync code back to the calling thread, and the consumer's
handlers are thread-sensitive (``database_sync_to_async``): they run in the test's thread,
on its database connection, where ``Queries`` counts them. A count taken on any other
connection would be zero, so the exact counts below also prove the capture sees them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from model_bakery import baker
from rest_framework.renderers import JSONRenderer

from chat.consumers import ROOM_NOT_FOUND
from chat.models import LATEST_MESSAGES, ChatRoom, Message
from chat.routing import websocket_urlpatterns
from chat.serializers import ChatRoomSnapshotSerializer, MessageSerializer
from sample_api.asgi import application

# Channels' consumers use the database from another task, which needs committed data.
pytestmark = pytest.mark.django_db(transaction=True)

ROOM_QUERIES = 3  # room joined to its owner, participants, latest messages joined to authors
POST_QUERIES = 2  # is the author a member, INSERT
ROUTES = URLRouter(websocket_urlpatterns)  # the websocket routes without the middleware
ORIGIN = [(b"origin", b"http://localhost")]
TIMEOUT = 5


@dataclass
class Queries:
    """The SQL run on the test thread's connection while ``play`` runs."""

    sql: list[str] = field(default_factory=list)

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def since(self, mark: int) -> list[str]:
        return self.sql[mark:]


def play(scenario: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
    """Run ``scenario(queries, *args)`` in an event loop driven from this thread."""
    queries = Queries()
    with connection.execute_wrapper(queries):
        return async_to_sync(scenario)(queries, *args)


@dataclass
class Member:
    """A client connected to a room, the room it was pushed and the SQL that push ran."""

    communicator: WebsocketCommunicator
    room: dict[str, Any]
    sql: list[str]

    async def send(self, content: dict[str, Any]) -> None:
        await self.communicator.send_json_to(content)

    async def receive(self) -> dict[str, Any]:
        return await self.communicator.receive_json_from(TIMEOUT)


@asynccontextmanager
async def joined(
    queries: Queries, room_id: int, *, user=None, app=ROUTES, headers=None
) -> AsyncIterator[Member]:
    communicator = WebsocketCommunicator(app, f"/ws/rooms/{room_id}/", headers=headers)
    if user is not None:
        communicator.scope["user"] = user
    mark = len(queries.sql)
    connected, code = await communicator.connect(TIMEOUT)
    assert connected, f"refused with close code {code}"
    try:
        pushed = await communicator.receive_json_from(TIMEOUT)
        assert pushed["type"] == "room"
        yield Member(communicator, pushed["room"], queries.since(mark))
    finally:
        await communicator.disconnect()


def as_json(data: Any) -> Any:
    """``data`` as a client decodes it."""
    return json.loads(JSONRenderer().render(data))


def unoptimized_room(room_id: int) -> Any:
    """The room serialized from a single instance: no plan, every relation read lazily."""
    return as_json(ChatRoomSnapshotSerializer(ChatRoom.objects.get(pk=room_id)).data)


@pytest.fixture
def busy_room():
    """A room with more messages than a client is pushed, posted by its three members."""
    members = baker.make(get_user_model(), _quantity=3)
    room = baker.make(ChatRoom, owner=members[0], participants=members)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    baker.make(
        Message,
        _quantity=LATEST_MESSAGES + 5,
        room=room,
        author=iter(members * (LATEST_MESSAGES + 5)),
        created_at=iter(start + dt.timedelta(minutes=k) for k in range(LATEST_MESSAGES + 5)),
    )
    return room


def test_joining_pushes_the_room_with_its_latest_messages(busy_room):
    async def scenario(queries):
        async with joined(queries, busy_room.pk) as member:
            return member

    member = play(scenario)

    assert len(member.sql) == ROOM_QUERIES, member.sql
    assert member.room == unoptimized_room(busy_room.pk)
    latest = busy_room.messages.order_by("-created_at", "-id")[:LATEST_MESSAGES]
    assert [message["id"] for message in member.room["latest_messages"]] == [
        message.pk for message in latest
    ]
    assert len({message["author"]["id"] for message in member.room["latest_messages"]}) == 3


def test_every_seeded_room_is_pushed_in_the_same_number_of_queries(seeded):
    rooms = list(ChatRoom.objects.values_list("pk", flat=True))

    async def scenario(queries):
        pushes = []
        for room_id in rooms:
            async with joined(queries, room_id) as member:
                pushes.append(member)
        return pushes

    for room_id, member in zip(rooms, play(scenario), strict=True):
        assert len(member.sql) == ROOM_QUERIES, member.sql
        assert member.room == unoptimized_room(room_id)


def test_snapshot_of_many_rooms_takes_the_latest_messages_of_each(seeded, busy_room):
    optimized = as_json(ChatRoomSnapshotSerializer(ChatRoom.objects.all(), many=True).data)
    rooms = ChatRoom.objects.all()

    assert optimized == [unoptimized_room(room.pk) for room in rooms]
    counts = {room["id"]: len(room["latest_messages"]) for room in optimized}
    assert counts.pop(busy_room.pk) == LATEST_MESSAGES
    assert 0 in counts.values()
    assert sum(counts.values()) == Message.objects.exclude(room=busy_room).count()


def test_refresh_pushes_the_room_again(busy_room):
    async def scenario(queries):
        async with joined(queries, busy_room.pk) as member:
            await member.send({"action": "refresh"})
            mark = len(queries.sql)
            pushed = await member.receive()
            return pushed, queries.since(mark)

    pushed, sql = play(scenario)

    assert len(sql) == ROOM_QUERIES, sql
    assert pushed == {"type": "room", "room": unoptimized_room(busy_room.pk)}


def test_an_unknown_room_is_refused():
    async def scenario(queries):
        communicator = WebsocketCommunicator(ROUTES, "/ws/rooms/999999/")
        return await communicator.connect(TIMEOUT), queries.sql

    (connected, code), sql = play(scenario)

    assert (connected, code) == (False, ROOM_NOT_FOUND)
    assert len(sql) == 1  # no room, nothing to prefetch


def test_a_post_is_broadcast_to_every_client_in_the_room(busy_room, seeded):
    author, reader = busy_room.participants.all()[:2]
    elsewhere = ChatRoom.objects.exclude(pk=busy_room.pk).first()

    async def scenario(queries):
        async with (
            joined(queries, busy_room.pk, user=author) as writing,
            joined(queries, busy_room.pk, user=reader) as reading,
            joined(queries, elsewhere.pk, user=reader) as away,
        ):
            mark = len(queries.sql)
            await writing.send({"action": "post", "text": "Hello, room."})
            received = [await writing.receive(), await reading.receive()]
            sql = queries.since(mark)
            assert await away.communicator.receive_nothing()
            return received, sql

    received, sql = play(scenario)

    assert len(sql) == POST_QUERIES, sql
    message = Message.objects.get(text="Hello, room.")
    assert (message.room, message.author) == (busy_room, author)
    expected = {"type": "message", "message": as_json(MessageSerializer(message).data)}
    assert received == [expected, expected]


@pytest.mark.parametrize(
    ("who", "content", "detail"),
    [
        ("anonymous", {"action": "post", "text": "Hi"}, "Log in to post in this room."),
        ("outsider", {"action": "post", "text": "Hi"}, "Only the owner and the participants"),
        ("member", {"action": "post", "text": ""}, {"text": ["This field may not be blank."]}),
        ("member", {"action": "post"}, {"text": ["This field may not be null."]}),
        ("member", {"action": "dance"}, 'Send {"action": "refresh"}'),
        ("member", ["not", "an", "object"], 'Send {"action": "refresh"}'),
    ],
)
def test_a_refused_request_is_answered_with_an_error(busy_room, who, content, detail):
    users = {
        "anonymous": None,
        "outsider": baker.make(get_user_model()),
        "member": busy_room.participants.first(),
    }

    async def scenario(queries):
        async with joined(queries, busy_room.pk, user=users[who]) as member:
            await member.send(content)
            return await member.receive()

    answer = play(scenario)

    assert answer["type"] == "error"
    if isinstance(detail, str):
        assert answer["detail"].startswith(detail)
    else:
        assert answer["detail"] == detail
    assert busy_room.messages.count() == LATEST_MESSAGES + 5


def test_strict_mode_finds_no_unplanned_query_in_a_push(busy_room, settings):
    settings.DRF_AUTOPREFETCH = {"STRICT": True}

    async def scenario(queries):
        async with joined(queries, busy_room.pk) as member:
            return member

    member = play(scenario)

    assert len(member.sql) == ROOM_QUERIES
    assert member.room == unoptimized_room(busy_room.pk)


def test_the_asgi_application_serves_the_websocket_to_logged_in_users(busy_room):
    user = busy_room.owner
    browser = Client()
    browser.force_login(user)
    cookie = [(b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())]

    async def scenario(queries):
        async with (
            joined(queries, busy_room.pk, app=application, headers=ORIGIN + cookie) as owner,
            joined(queries, busy_room.pk, app=application, headers=ORIGIN) as anonymous,
        ):
            await owner.send({"action": "post", "text": "Welcome."})
            posted = [await owner.receive(), await anonymous.receive()]
            await anonymous.send({"action": "post", "text": "Me too."})
            return owner.room, posted, await anonymous.receive()

    before = unoptimized_room(busy_room.pk)
    room, posted, refused = play(scenario)

    assert room == before
    assert posted[0] == posted[1]
    assert posted[0]["message"]["author"] == {"id": user.pk, "username": user.username}
    assert refused == {"type": "error", "detail": "Log in to post in this room."}
    assert not Message.objects.filter(text="Me too.").exists()


def test_the_asgi_application_refuses_a_foreign_origin(busy_room):
    async def scenario(queries):
        headers = [(b"origin", b"http://elsewhere.example")]
        communicator = WebsocketCommunicator(application, f"/ws/rooms/{busy_room.pk}/", headers)
        return await communicator.connect(TIMEOUT)

    connected, _ = play(scenario)

    assert not connected
