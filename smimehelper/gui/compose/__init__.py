"""The Compose tab (see :mod:`.view`): the form, its attachment panel and its ways out."""

from .texts import THUMBNAIL_SIZE, estimate_message_size
from .view import ComposeView

__all__ = ["THUMBNAIL_SIZE", "ComposeView", "estimate_message_size"]
