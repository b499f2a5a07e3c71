"""How the outside reaches the registry service: the HTTP API and inbound events."""
