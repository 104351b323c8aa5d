"""Aggregates and their events: pure, no I/O and no imports from the layers above."""
