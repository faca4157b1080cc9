"""GridBot (网格助手): a Telegram bot for residential community group chats."""

__version__ = "0.1.0"
