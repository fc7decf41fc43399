"""Chat endpoint: rooms with their owner, participants and messages."""

from rest_framework import viewsets

from chat.models import ChatRoom
from chat.serializers import ChatRoomSerializer
from drf_autoprefetch import AutoPrefetchMixin


class ChatRoomViewSet(AutoPrefetchMixin, viewsets.ReadOnlyModelViewSet):
    queryset = ChatRoom.objects.all()
    serializer_class = ChatRoomSerializer
