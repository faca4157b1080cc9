"""tgsandbox: a Telegram Bot API emulator, and the people in its chats played from Python.

The bot talks to it over HTTP on 127.0.0.1 (``async with Emulator() as emu``) or in-process
(``tgsandbox.offline.OfflineRequest``); tests and the demo act as residents through the same
object. A newcomer reads it in this order:

- ``state``   what Telegram holds: people, chats, messages, files, the updates queue
- ``api``     the Bot API methods, one module per kind, and the one path every call takes
- ``people``  the Python API that plays the people: send_text, press_button, wait_for…
- ``faults``  errors, slow answers and send limits a test switches on
- ``http``    the aiohttp server; ``offline`` the same calls without it
- ``emulator`` the object that puts them together
"""

from tgsandbox.emulator import Emulator
from tgsandbox.images import make_png
from tgsandbox.model import ApiCall, BotMessage, Button, CallbackAnswer, Event, Person, Stats
from tgsandbox.state import DEFAULT_TOKEN

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
