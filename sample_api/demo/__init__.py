"""The sample's tooling: deterministic seed data, the endpoint list and the demo commands."""
