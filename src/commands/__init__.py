"""Command models, the bus, one handler per command, idempotency and the error codes."""
