"""reorder: restore a plausible order to a document whose paragraphs or sentences were scrambled."""

from __future__ import annotations

__version__ = "0.1.0"
