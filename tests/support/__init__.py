"""Shared helpers and fixtures of the test suite (imported as tests.support.*)."""
