"""How the outside reaches the review service: the HTTP API and inbound events."""
