"""`gridbot demo`: the whole bot on this machine, against the Bot API emulator, no Telegram.

The scene format is described in gridbot_demo/script.py; the default scene is scenes/default.txt.
"""
