"""How tasks look in a chat: the task's post, the /tasks listing, the proof card for the verifier.

Pure rendering: a Task in, text and buttons out (sent by the handlers through the outbox).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot import texts
from bot.services.posts import digest_task_line, month_day
from storage.outbox import Button
from storage.tasks import Task, TaskClaim

_LISTED = re.compile(r"^#(\d{1,9})「", re.MULTILINE)


def task_details(task: Task, tz: ZoneInfo) -> str:
    """Return the one-line summary of a task (points, places, deadline, audience)."""
    deadline = ""
    if task.deadline is not None:
        local = task.deadline.astimezone(tz)
        deadline = texts.TASK_DETAIL_DEADLINE.format(when=f"{month_day(local)} {local:%H:%M}")
    audience = (
        texts.TASK_DETAIL_TARGETED.format(targets="、".join(task.targets))
        if task.audience == "targeted"
        else texts.TASK_DETAIL_PUBLIC
    )
    if task.status != "open":
        left = texts.TASK_DETAIL_ENDED
    elif task.places_left > 0:
        left = texts.TASK_DETAIL_LEFT.format(left=task.places_left)
    else:
        left = texts.TASK_DETAIL_FULL
    return texts.TASK_DETAILS.format(
        points=task.points,
        capacity=task.capacity,
        left=left,
        deadline=deadline,
        audience=audience,
        location=texts.TASK_DETAIL_LOCATION.format(location=task.location)
        if task.location
        else "",
        hours=texts.TASK_DETAIL_HOURS.format(hours=f"{task.hours:g}") if task.hours else "",
    )


def claim_button(task: Task) -> Button:
    """Return the claim button of a task."""
    label = texts.DIGEST_CLAIM_BUTTON.format(task_id=task.id, title=task.title[:12])
    return Button(label, f"claim:{task.id}")


def claimable(task: Task, now: datetime) -> bool:
    """Return whether a task still takes claims (open, not expired, a place left)."""
    expired = task.deadline is not None and task.deadline <= now
    return task.status == "open" and not expired and task.places_left > 0


def announcement(task: Task, tz: ZoneInfo, now: datetime) -> tuple[str, list[list[Button]]]:
    """Return the text and button of a task's own post (after /task new)."""
    text = texts.TASK_PUBLISHED.format(
        task_id=task.id, title=task.title, details=task_details(task, tz)
    )
    return text, [[claim_button(task)]] if claimable(task, now) else []


def task_list(
    tasks: Sequence[Task], tz: ZoneInfo, now: datetime
) -> tuple[str, list[list[Button]]]:
    """Return the /tasks listing with a claim button for every task that still takes one."""
    takes = [t for t in tasks if claimable(t, now)]
    lines = [texts.TASKS_HEAD.format(count=len(takes))]
    buttons: list[list[Button]] = []
    for task in tasks:
        lines.append(f"#{task.id}「{task.title}」· {task_details(task, tz)}")
        if task.description:
            lines.append(texts.TASK_LINE_DESC.format(description=task.description))
        if task in takes:
            buttons.append([claim_button(task)])
    return "\n".join(lines), buttons


def proof_card(task: Task, claim: TaskClaim, *, is_video: bool) -> tuple[str, list[list[Button]]]:
    """Return the card a verifier gets with a claim's proof: 通过 or 退回."""
    card = texts.VERIFY_CARD.format(
        task_id=task.id,
        title=task.title,
        name=claim.name,
        points=task.points,
        note=(texts.VERIFY_VIDEO_NOTE if is_video else "")
        + (texts.VERIFY_NOTE.format(note=claim.note) if claim.note else ""),
    )
    buttons = [
        [
            Button(texts.VERIFY_BUTTON_OK, f"tok:{task.id}:{claim.user_id}"),
            Button(texts.VERIFY_BUTTON_RETURN, f"tno:{task.id}:{claim.user_id}"),
        ]
    ]
    return card, buttons


def post_kind(text: str, task: Task) -> str:
    """Say which post with claim buttons a text is: 'announcement', 'listing' or 'digest'."""
    if text.startswith(texts.TASK_PUBLISHED.format(task_id=task.id, title=task.title, details="")):
        return "announcement"
    if text.startswith(texts.TASKS_HEAD.split("{")[0]):
        return "listing"
    return "digest"


def listed_task_ids(listing: str) -> list[int]:
    """Return the task numbers a /tasks listing shows, in order."""
    return [int(n) for n in _LISTED.findall(listing)]


def redraw_digest_line(digest: str, task: Task, tz: ZoneInfo) -> str:
    """Return a daily digest with one task's line redrawn (the rest is that morning's report)."""
    line = re.compile(rf"^#{task.id} .*· 余 \d+ 个名额.*$", re.MULTILINE)
    return line.sub(lambda _: digest_task_line(task, tz), digest, count=1)
