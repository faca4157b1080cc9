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

# ── ticket lifecycle, deadlines and ratings ──────────────────────────────────────────────────
TICKET_STATE_LABELS: dict[str, str] = {
    "new": "待接单",
    "accepted": "处理中",
    "resolved": "已办结待评价",
    "closed": "已关闭",
    "reopened": "重新办理中",
    "transferred": "已转派待接单",
    "returned": "已退回待分派",
    "rejected": "不予受理",
    "duplicate": "重复工单",
}
TICKET_ACTION_LABELS: dict[str, str] = {
    "accept": "接单",
    "transfer": "转派",
    "return": "退单",
    "reassign": "改派",
    "resolve": "办结",
    "reject": "不予受理",
    "duplicate": "标记为重复",
    "rate": "评价",
    "rate_unsatisfied": "评价",
    "close_unrated": "关闭",
}
# 退单 reason codes offered as buttons.
RETURN_REASONS: dict[str, str] = {
    "not_my_grid": "不是我的网格",
    "not_my_category": "不归我负责的事项",
    "wrong_location": "地址不清或有误",
    "not_a_complaint": "不是需要处理的问题",
    "other": "其他原因",
}
RATING_LABELS: dict[str, str] = {
    "satisfied": "满意",
    "basic": "基本满意",
    "unsatisfied": "不满意",
    "unrated": "未评价",
}
ESCALATION_LEVEL_LABELS: dict[int, str] = {
    0: "网格员",
    1: "社区居委会",
    2: "街道办",
    3: "职能部门",
}
DEADLINE_PHASE_LABELS: dict[str, str] = {"accept": "接单", "resolve": "办结"}

RATING_REQUEST = "{reporter}，您反映的问题 #{number} 已办结{note}。请评价一下处理结果："
RATING_REQUEST_NOTE = "：{note}"
RATING_BUTTON_SATISFIED = "满意"
RATING_BUTTON_BASIC = "基本满意"
RATING_BUTTON_UNSATISFIED = "不满意"
FOLLOWER_RESOLVED = "您关注的问题 #{number} 已办结{note}。如有意见可以评价："
RATING_THANKS = "谢谢您的评价（{rating}）！"
RATING_REOPENED_GROUP = "#{number} 已重新交给 {worker} 继续处理。"
REOPENED_TO_OFFICE = (
    "【工单回访】#{number}（{category}）居民评价为“不满意”，已退回 {worker} 重新办理，"
    "请关注。"
)
REOPENED_TO_WORKER = "工单 #{number} 居民评价“不满意”，已退回给您重新办理，请在 {due} 前办结。"
PRIORITY_RAISED = "工单 #{number} 已有 {count} 户反映，已提高优先级。"
REMINDER_ACCEPT = "⏰ 提醒：工单 #{number}（{category}）还没接单，请在 {due} 前接单。"
REMINDER_RESOLVE = "⏰ 提醒：工单 #{number}（{category}）请在 {due} 前办结。"
OVERDUE_TO_WORKER = "工单 #{number} 已超过{phase}时限 {late}，已报社区居委会，请尽快处理。"
ESCALATE_TO_OFFICE = (
    "【超时提醒】工单 #{number}（{category}，{place}）超过{phase}时限 {late}，"
    "负责人：{worker}。请督办。"
)
ESCALATE_TO_STREET = (
    "【街道督办】{community} 工单 #{number}（{category}，{place}）超过{phase}时限 {late}，"
    "社区已督办仍未完成，负责人：{worker}。"
)
WHISTLE_TO_DEPARTMENT = (
    "【街乡吹哨】{community} 工单 #{number}（{category}，{place}）超过{phase}时限 {late}，"
    "需要{department}协同处理。请在 {ack_minutes} 分钟内点“收到，立即处理”确认。\n问题：{text}"
)
WHISTLE_ACK_BUTTON = "收到，立即处理"
WHISTLE_LAPSED_TO_STREET = (
    "【吹哨未响应】工单 #{number} 已呼叫{department}，{ack_minutes} 分钟内未确认，请街道协调。"
)
WHISTLE_ACKED = "已确认，谢谢！工单 #{number} 请{department}尽快处理。"
GROUP_CALM_STATUS = "#{number} 正在加紧处理中，感谢大家耐心等待。"
CLOSED_UNRATED_NOTE = "#{number} 已办结，评价期已过，工单关闭。"
LATE_MINUTES = "{minutes} 分钟"
LATE_HOURS = "{hours} 小时"
LATE_DAYS = "{days} 天"
PLACE_UNKNOWN = "位置未注明"

ERRORS.update(
    {
        "ticket_not_found": "找不到工单 {ref}。",
        "illegal_transition": "工单 #{number} 现在是“{state_label}”，不能{action_label}。",
        "not_accepted": "工单 #{number} 还没接单，不能办结。",
        "already_accepted": "工单 #{number} 已经接单了。",
        "already_resolved": "工单 #{number} 已经办结了。",
        "ticket_finished": "工单 #{number} 已经结束（{state_label}），不能再操作。",
        "not_assignee": "工单 #{number} 不是派给您的，只有负责的网格员或管理员可以处理。",
        "reason_required": "请写明原因。",
        "bad_reason_code": "退单原因不对，请从按钮中选择。",
        "transfer_target_required": "请选择转派给谁，或改成哪个类别。",
        "same_worker": "工单 #{number} 已经由这位网格员负责了。",
        "already_with_duty": "工单 #{number} 已经在值班人员手里，请转派或不予受理。",
        "not_rater": "只有反映人和点了“我也遇到”的居民可以评价工单 #{number}。",
        "already_rated": "工单 #{number} 已经评价过了，谢谢！",
        "not_resolved": "工单 #{number} 还没办结，办结后再评价。",
        "bad_rating": "评价选项不对，请点按钮评价。",
        "already_following": "您已经关注工单 #{number}，办结时会通知您。",
        "own_ticket": "这是您自己反映的问题 #{number}，办结时会通知您。",
        "duplicate_of_self": "不能把工单 #{number} 标记为它自己的重复。",
        "duplicate_target_closed": "工单 #{of_number} 已经结束，不能作为原工单。",
        "no_open_whistle": "工单 #{number} 没有待确认的协同请求。",
        "not_department_contact": "只有被呼叫部门的联系人可以确认工单 #{number}。",
        "bad_photo_role": "照片来源不对。",
    }
)

# ── community, invitations and group bindings ─────────────────────────────────────────────────
INVITE_LINK = (
    "已为 {name} 生成绑定邀请（{hours} 小时内有效，只能使用一次）：\n"
    "{link}\n"
    "请把链接发给本人，用 Telegram 打开后点“开始”即可完成绑定。"
)
INVITE_CODE_ONLY = (
    "已为 {name} 生成绑定邀请码（{hours} 小时内有效，只能使用一次）：{code}\n"
    "还不知道机器人的用户名，无法生成链接：请本人私聊机器人发送 /start {code}，"
    "或加上 --bot-username 参数重新生成链接。"
)
INVITE_UNKNOWN_WORKER = "社区配置里没有“{key}”这个人。可用的有：{known}"
INVITE_LINKED_WORKER = "绑定成功！您好，{name}，您是{community}的{role}，新的工单会私聊发给您。"
INVITE_LINKED_ADMIN = "绑定成功！您好，{name}，您已是{community}的管理员。"
WORKER_ROLE_NAMES = {
    "grid_worker": "网格员",
    "social_worker": "专职社工",
    "office": "社区办公室",
    "duty": "值班网格员",
}
GROUP_BOUND = "本群已绑定到：{grids}。群里反映的问题会派给对应的网格员。"
GROUP_UNBOUND = "本群已解除绑定，不再受理群内反映的问题。"
ERRORS.update(
    {
        "invite_unknown": "这个邀请码无效。请向社区要一个新的邀请链接。",
        "invite_expired": "这个邀请已经过期了。请向社区要一个新的邀请链接。",
        "invite_used": "这个邀请已经被使用过了。如需重新绑定，请向社区要一个新的邀请链接。",
        "invite_account_taken": "您的账号已经绑定为“{name}”，不能再绑定为其他人。如有错误请联系社区。",
        "invite_bad_ttl": "邀请有效期须大于 0 且不超过 {max_days} 天。",
        "unknown_worker": "社区配置里没有“{key}”这个人。",
        "unknown_grid": "没有“{grid}”这个网格。可用的网格：{known}",
        "bind_needs_grid": "请写明要绑定的网格，例如 /bind 网格代码。可用的网格：{known}",
    }
)

# ── tasks, points, redemption and scheduled posts ─────────────────────────────────────────────
BUILDING_LABEL = "{building}号楼"
HOUSEHOLD_LABEL = "{building}号楼{unit}单元{room}"
DATE_MD = "{m}月{d}日"
RATE_NONE = "—"
POSTS_CATEGORY_NAMES = {
    "utilities": "水电气暖",
    "drainage": "排水管道",
    "sanitation": "环境卫生",
    "noise": "噪音扰民",
    "parking": "停车秩序",
    "fire_safety": "消防安全",
    "security": "治安安全",
    "facilities": "公共设施",
    "greenery": "绿化养护",
    "property": "物业服务",
    "pets": "文明养宠",
    "construction": "违章搭建",
    "neighbor": "邻里纠纷",
    "services": "民生服务",
    "other": "其他诉求",
}
POSTS_TICKET_STATUS_NAMES = {
    "new": "待接单",
    "accepted": "处理中",
    "reopened": "重新处理",
    "transferred": "转派中",
    "returned": "待重新派单",
}
POSTS_NO_GRID = "未分网格"

TASK_FROM_TICKET_TITLE = "工单 #{number} 后续：{category}"
POINTS_TASK_REASON = "完成任务 #{task_id}「{title}」"
POINTS_TICKET_REASON = "反映问题属实（工单 #{number}）"
POINTS_BEHAVIOUR_REASON = "{behaviour}：{reason}"
POINTS_DEDUCTION_CAPPED = "{reason}（应扣 {asked} 分，余额只有 {taken} 分，已扣至 0）"
POINTS_REDEEM_REASON = "兑换 {item} ×{quantity}"
POINTS_REFUND_REASON = "兑换退回：{item}（{reason}）"
REDEEM_CANCELLED_BY_RESIDENT = "本人取消"

DIGEST_TITLE = "📋 每日简报 {date}"
DIGEST_TICKETS_HEAD = "未办结工单 {count} 件，其中已超时 {overdue} 件："
DIGEST_NO_TICKETS = "目前没有未办结的工单 👍"
DIGEST_OVERDUE_HEAD = "⏰ 已超时"
DIGEST_TICKET_LINE = "#{number} {category} {place} {status} {age}"
DIGEST_MORE = "……另有 {count} 件，发送 /ticket 编号 查看"
DIGEST_TASKS_HEAD = "🙋 可接任务 {count} 个，点下方按钮接单："
DIGEST_TASK_LINE = "#{task_id} {title} · {points}分 · 余 {left} 个名额{extra}"
DIGEST_TASK_DEADLINE = " · 截止{when}"
DIGEST_TASK_TARGETED = " · 限{targets}"
DIGEST_CLAIM_BUTTON = "接单 #{task_id} {title}"
AGE_DAYS = "{n}天"
AGE_HOURS = "{n}小时"
AGE_JUST_NOW = "不到1小时"

WEEKLY_TITLE = "🏅 积分公示（{start}—{end}）"
WEEKLY_AWARDED = "本周共发放积分 {points} 分。"
WEEKLY_BUILDINGS_HEAD = "各楼栋累计积分："
WEEKLY_BUILDING_LINE = "{building} {points}分"
WEEKLY_HOUSEHOLDS_HEAD = "积分前列的家庭："
WEEKLY_RESIDENTS_HEAD = "积分前列的居民："
WEEKLY_RANK_LINE = "{rank}. {who} {points}分"
WEEKLY_MOVED_HEAD = "本周积分有变动的居民（当前余额）："
WEEKLY_MOVED_LINE = "{who} {balance}分"
WEEKLY_PRIVATE_HINT = "私聊我发送 /points 可随时查看自己的积分。"
WEEKLY_CONTINUED = "（续）"

MONTHLY_TITLE = "📊 社区月报（{start}—{end}）"
MONTHLY_TICKETS = "新收工单 {count} 件"
MONTHLY_BY_CATEGORY = "按类别：{items}"
MONTHLY_BY_GRID = "按网格：{items}"
MONTHLY_RATES = "响应率 {response} · 解决率 {resolution} · 满意率 {satisfaction}"
MONTHLY_TASKS = "完成任务 {tasks} 个，发放积分 {points} 分"
MONTHLY_CHART_CAPTION = "📊 {start}—{end} 工单分类"

EVENT_REMINDER = "📅 提醒：{when}（{date}）是{name}。{note}"
EVENT_TODAY = "今天"
EVENT_TOMORROW = "明天"
EVENT_IN_DAYS = "{n}天后"

ERRORS.update(
    {
        "resident_bad_address": "登记格式不对，请写：姓名 楼号 单元 房号，例如 张三 3 2 301。",
        "resident_not_registered": "还没有登记住址。请先发送 /register 姓名 楼号 单元 房号。",
        "task_not_found": "没有找到任务 #{task_id}。",
        "task_bad_title": "任务标题不能为空，最多 {limit} 个字。",
        "task_bad_points": "请写积分（0 到 {limit} 分）或难度。",
        "task_bad_difficulty": "没有这个难度，可选：{known}。",
        "task_bad_capacity": "人数要在 1 到 {limit} 之间。",
        "task_bad_hours": "志愿服务时长要在 0 到 {limit} 小时之间。",
        "task_bad_deadline": "截止时间要晚于现在。",
        "task_bad_audience": "接单范围只能是公开，或指定单位。",
        "task_no_targets": "指定单位的任务，请写明由哪些单位承接。",
        "task_closed": "任务 #{task_id} 已结束，不能再接单。",
        "task_expired": "任务 #{task_id} 已过截止时间，不能再接单。",
        "task_not_for_you": "任务 #{task_id} 由{targets}承接，其他人不能接单。",
        "task_already_claimed": "您已经接了任务 #{task_id}，完成后发送 /done {task_id} 并附上照片。",
        "task_full": "任务 #{task_id} 名额已满，感谢您的热心！",
        "task_proof_missing": "请附上照片或视频作为完成凭证。",
        "task_not_claimed": "没有找到任务 #{task_id} 的这份接单记录。",
        "task_already_approved": "任务 #{task_id} 已验收通过，无需再提交。",
        "task_verify_own": "不能验收自己完成的任务，请由发布人或网格员验收。",
        "task_not_submitted": "任务 #{task_id} 还没有提交完成凭证，暂不能验收。",
        "task_reason_required": "退回时请写明原因，方便居民补做。",
        "task_ticket_not_found": "没有找到工单 #{number}。",
        "task_ticket_not_resolved": "工单 #{number} 还没有办结，办结后才能转为任务。",
        "task_ticket_has_task": "工单 #{number} 已经转成任务了。",
        "points_bad_amount": "积分数额不对：不能为 0，单次最多 {limit} 分。",
        "points_insufficient": "积分不足：当前 {balance} 分，需要 {needed} 分。",
        "points_nothing_to_deduct": "该居民的积分已经是 0，无法再扣。",
        "points_reason_required": "请写明原因，居民会看到。",
        "points_unknown_behaviour": "清单里没有“{behaviour}”。可用：{known}",
        "points_ticket_not_found": "没有找到工单 #{number}。",
        "points_ticket_already": "工单 #{number} 已经加过积分了。",
        "redeem_bad_quantity": "数量要在 1 到 {limit} 之间。",
        "redeem_unknown_item": "兑换清单里没有“{item}”，发送 /redeem 查看可兑换的物品。",
        "redeem_out_of_stock": "{item} 库存不足（还剩 {stock} 件）。",
        "redeem_not_found": "没有找到兑换申请 #{redemption_id}。",
        "redeem_wrong_state": "兑换申请 #{redemption_id} 已经处理过了。",
        "schedule_unknown_key": "没有“{key}”这项设置。可设置：{known}",
        "schedule_bad_value": "“{key}”的值不对，应为：{hint}",
    }
)

# ── classifier (bot/nlp) ──────────────────────────────────────────────────────────────────────
CLASSIFIER_LEARNED = "已根据 {count} 次纠正学习"
CLASSIFIER_NOT_COMPLAINT = "非诉求"
