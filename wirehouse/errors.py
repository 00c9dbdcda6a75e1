"""The one exception root, re-exported from :mod:`core.errors` so that ``wirehouse.errors`` keeps working."""

from core.errors import PermanentError, TransientError, WirehouseError, is_transient

__all__ = ["PermanentError", "TransientError", "WirehouseError", "is_transient"]
