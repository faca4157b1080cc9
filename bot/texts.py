"""Every text a resident, worker or secretary reads, in one place (简体中文).

Each feature keeps its texts in its own section below; format placeholders use str.format names.
"""

from __future__ import annotations

# ── basics ────────────────────────────────────────────────────────────────────────────────────
START_PRIVATE = (
    "您好，我是{community}的网格助手 🏘\n"
    "在小区群里直接说出问题（比如“3号楼电梯坏了”），我会登记工单并派给负责的网格员。\n"
    "也可以在这里私下反映，群里不会显示是谁反映的。\n"
    "发送 /help 查看全部用法。"
)
START_GROUP = "大家好，我是{community}的网格助手。有问题直接在群里说，或发送 /report 问题描述。/help 查看用法。"
HELP = (
    "网格助手用法：\n"
    "• 在群里直接描述问题，例如“5号楼楼道灯不亮了”，我会登记并派给网格员\n"
    "• /report 问题描述 — 明确登记一个问题（群隐私模式下也可用）\n"
    "• 私聊我描述问题 — 不在群里公开您的身份\n"
    "• /ticket 编号 — 查看工单进度\n"
    "• /mytickets — 网格员查看自己的待办工单\n"
    "• /tasks — 查看社区任务清单，/points — 查看我的积分\n"
    "• /help — 显示本说明"
)
ERROR_GENERIC = "抱歉，刚才处理出了点问题，请稍后再试。您的消息已记录，不会丢失。"
ERROR_BUSY = "系统有点忙，请稍后再试。"
UNKNOWN_COMMAND = "没有这个命令。发送 /help 查看可用命令。"
TEXT_TOO_LONG_NOTE = "（内容过长，已截断）"

# Domain error codes -> sentences; each feature adds its own with ERRORS.update({...}).
ERRORS: dict[str, str] = {
    "not_allowed": "抱歉，您没有权限进行这个操作。",
    "bad_argument": "格式不对：{usage}",
}
