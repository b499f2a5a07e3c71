"""How the outside reaches the enrollment service: the HTTP API and inbound events."""
