"""Run the Bot API emulator by itself: ``python -m tgsandbox --port 8081``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from tgsandbox import DEFAULT_TOKEN, Emulator


async def _serve(port: int, token: str, username: str, privacy: bool) -> None:
    async with Emulator(token, username, privacy, port=port) as emu:
        print(f"Bot API emulator on {emu.base_url}  (base_file_url {emu.base_file_url})")
        print(f"token: {emu.token}")
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tgsandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--username", default="gridbot_demo_bot")
    parser.add_argument("--no-privacy", action="store_true", help="bot sees every group message")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.token, args.username, not args.no_privacy))


if __name__ == "__main__":
    main()
