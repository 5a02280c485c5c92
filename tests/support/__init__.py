"""Shared helpers and fixtures of the test suite (``tests.support.*``)."""
