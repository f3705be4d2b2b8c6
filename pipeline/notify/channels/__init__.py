"""Delivery channels of the notification outbox: e-mail, Telegram bot, signed webhooks.

Each channel is a small async client with one method, ``send(envelope)``. It
raises :class:`ChannelError` on failure; ``permanent=True`` means retrying
cannot help (e.g. HTTP 400/404, a refused recipient), so the outbox marks the
message dead at once instead of backing off.
"""

from .base import ChannelError, Envelope, Sender
from .email import EmailSender
from .telegram import TelegramSender
from .webhook import WebhookSender, sign

__all__ = ["ChannelError", "EmailSender", "Envelope", "Sender", "TelegramSender", "WebhookSender", "sign"]
