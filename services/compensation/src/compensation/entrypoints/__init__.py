"""How the outside reaches the compensation service: the HTTP API and inbound events."""
