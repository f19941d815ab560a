"""The exception hierarchy: every error the library raises on purpose is a ``ReorderError``."""

from __future__ import annotations


class ReorderError(Exception):
    """Base class of every error that ``reorder`` raises deliberately."""


class InvalidInputError(ReorderError, ValueError):
    """The text, units, options or constraints given are not usable as they are."""


class ModelError(ReorderError):
    """A model could not be loaded, is corrupted, or does not match the running code."""


class NotFittedError(ReorderError, AttributeError):
    """A model was used before ``fit`` (or ``load``) gave it its learned state."""
