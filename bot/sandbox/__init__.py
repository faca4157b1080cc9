"""The Telegram Bot API emulator: a local server the bot talks to and people played from Python."""

from bot.sandbox.model import ApiCall, BotMessage, Button, CallbackAnswer, Event, Person, Stats
from bot.sandbox.server import DEFAULT_TOKEN, Emulator, make_png

__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "BotMessage",
    "Button",
    "CallbackAnswer",
    "Emulator",
    "Event",
    "Person",
    "Stats",
    "make_png",
]
