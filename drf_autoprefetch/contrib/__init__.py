"""Support for third-party packages, each imported only when a serializer uses it."""
