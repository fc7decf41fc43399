"""Serializers of the chat endpoint and of the room websocket.

Both room serializers are ``@auto_prefetch``: given an unevaluated QuerySet with
``many=True`` they optimize it themselves, outside any viewset.
"""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from chat.models import ChatRoom, Message
from drf_autoprefetch import auto_prefetch


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ("id", "username")


class MessageSerializer(serializers.ModelSerializer):
    author = UserSerializer(read_only=True)

    class Meta:
        model = Message
        fields = ("id", "author", "text", "created_at")


@auto_prefetch
class ChatRoomSerializer(serializers.ModelSerializer):
    owner = UserSerializer(read_only=True)
    participants = UserSerializer(many=True, read_only=True)
    messages = MessageSerializer(many=True, read_only=True)

    class Meta:
        model = ChatRoom
        fields = ("id", "name", "owner", "participants", "messages")


@auto_prefetch
class ChatRoomSnapshotSerializer(serializers.ModelSerializer):
    """What a client gets when it joins a room: the members and the latest messages.

    ``latest_messages`` is ``ChatRoom.latest_messages``, newest first; its ``@hints``
    give the planner a sliced ``Prefetch`` with ``to_attr``, so one query loads the
    latest messages of every room, each joined to its author.
    """

    owner = UserSerializer(read_only=True)
    participants = UserSerializer(many=True, read_only=True)
    latest_messages = MessageSerializer(many=True, read_only=True)

    class Meta:
        model = ChatRoom
        fields = ("id", "name", "owner", "participants", "latest_messages")
