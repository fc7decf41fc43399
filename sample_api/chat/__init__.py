"""Chat rooms, their participants and messages."""
