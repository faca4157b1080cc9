"""Files: getFile (the download itself is served by the HTTP layer or the offline request)."""

from __future__ import annotations

from tgsandbox.model import JSON, bad_request
from tgsandbox.params import Params
from tgsandbox.state import World


async def get_file(world: World, params: Params) -> JSON:
    stored = world.files.get(params.text("file_id") or "")
    if stored is None:
        raise bad_request("invalid file_id")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "file_path": stored.file_path,
    }
