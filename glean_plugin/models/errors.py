"""The error raised for bad input to the plugin's models."""

__all__ = ['ModelInputError']


class ModelInputError(ValueError, AssertionError):
    """Bad input to a model (shape, size, a missing or unexpected label).

    A ``ValueError`` with a message naming what was expected and what was
    given; also an ``AssertionError`` because MMagic's classes check the same
    input with ``assert``, and MMagic's code and tests catch that.
    """
