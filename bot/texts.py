"""Every text a resident, worker or secretary reads, in one place (简体中文).

Each feature keeps its texts in its own section below; format placeholders use str.format names.
"""

from __future__ import annotations

# ── basics ────────────────────────────────────────────────────────────────────────────────────
START_PRIVATE = (
    "您好，我是{community}的网格助手 🏘\n"
    "在小区群里直接说出问题（比如“3号楼电梯坏了”），我会登记工单并派给负责的网格员。\n"
    "也可以在这里私下反映，群里不会显示是谁反映的。\n"
    "发送 /mygrid 查看您的网格员是谁。\n"
    "发送 /help 查看全部用法。"
)
START_GROUP = "大家好，我是{community}的网格助手。有问题直接在群里说，或发送 /report 问题描述。/help 查看用法。"
HELP = (
    "网格助手用法：\n"
    "【居民】\n"
    "• 在群里直接描述问题，例如“5号楼楼道灯不亮了”，我会登记并派给网格员\n"
    "• /report 问题描述 — 明确登记一个问题（群隐私模式下也可用）\n"
    "• 私聊我描述问题 — 不在群里公开您的身份\n"
    "• 回复我的登记消息发照片 — 给工单补充照片\n"
    "• /ticket 编号 — 查看工单进度\n"
    "• /mygrid — 我的网格员是谁（未登记住址可写 /mygrid 楼号）\n"
    "• /register 楼栋 单元 房号 — 登记住址，参加积分\n"
    "• /tasks — 社区任务清单，点按钮接单；/done 任务号 + 照片 — 提交完成凭证\n"
    "• /points — 我的积分；/redeem — 积分兑换\n"
    "【网格员】/mytickets 我的待办 · /task new 发布任务 · /stats 三率统计\n"
    "【管理员】/bind 网格 绑定本群 · /schedule 定时公示 · /award /deduct 积分奖惩"
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
    "withdrawn": "已撤回",
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
    "withdraw": "撤回",
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
RATING_USE_BUTTONS = (
    "谢谢您的回复。#{number} 的处理结果请点上面消息里的按钮评价（满意、基本满意或不满意）；"
    "如果问题还没解决，直接回复“没修好”和原因也可以。"
)
RATING_REQUEST_NOTE = "：{note}"
RATING_BUTTON_SATISFIED = "满意"
RATING_BUTTON_BASIC = "基本满意"
RATING_BUTTON_UNSATISFIED = "不满意"
FOLLOWER_RESOLVED = "您关注的问题 #{number} 已办结{note}。如有意见可以评价："
RATING_THANKS = "谢谢您的评价（{rating}）！"
RATING_REOPENED_GROUP = "#{number} 已重新交给 {worker} 继续处理。"
REOPENED_TO_OFFICE = (
    "【工单回访】#{number}（{category}）居民评价为“不满意”，已退回 {worker} 重新办理，请关注。"
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
ESCALATE_REJECT_PENDING = (
    "【待审批】工单 #{number}（{category}，{place}）超过{phase}时限 {late}："
    "{worker}申请不予受理，正等待社区审批。请尽快同意或退回。"
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
# Many of the notes above at once to one chat become one message.
FLOOD_TITLE = {
    "escalate": "【超时提醒】本轮共 {count} 件工单超过时限，请督办：",
    "overdue": "以下 {count} 件工单已超过时限，已报社区居委会，请尽快处理：",
    "remind": "⏰ 提醒：以下 {count} 件工单快到时限了：",
}
FLOOD_MORE = "……另有 {count} 件，详见各工单卡片。"
FLOOD_GROUP_STATUS = "{numbers} 正在加紧处理中，感谢大家耐心等待。"
CLOSED_UNRATED_NOTE = "#{number} 已办结，评价期已过，工单关闭。"
LATE_MINUTES = "{minutes} 分钟"
LATE_HOURS = "{hours} 小时"
LATE_DAYS = "{days} 天"
PLACE_UNKNOWN = "位置未注明"
STATS_TITLE = "📊 {since} 至 {until} 工单“三率”（{by}）"
STATS_BY_LABELS: dict[str, str] = {
    "worker": "按网格员",
    "grid": "按网格",
    "community": "全社区",
    "street": "全街道",
}
STATS_BY_COMMUNITIES = "按社区"
STATS_ROW = (
    "{key}：工单 {tickets} 件\n"
    "  响应率 {response}｜解决率 {resolution}｜满意率 {satisfaction}"
    "（{rated} 件评价，{unrated} 件未评价）\n"
    "  平均接单 {accept}｜平均办结 {resolve}｜超时 {overdue} 件"
)
STATS_EMPTY = "这段时间没有工单。"
STATS_NOT_AVAILABLE = "—"
STATS_MINUTES = "{value:.0f} 分钟"
STATS_HOURS = "{value:.1f} 小时"

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
GROUP_BOUND_UNSEEN = (
    "\n⚠️ 不过我现在只能看到命令、@我 和回复我的消息，群里直接说的问题我看不到。"
    "请把我设为本群管理员（不需要任何管理权限）；或者在 @BotFather 里用 /setprivacy 关闭隐私模式，"
    "再把我移出并重新拉进本群。在这之前，居民可以用 /report 问题描述 或 @我 来反映。"
)
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
        "group_in_other_community": "本群已经属于{community}，一个群只能属于一个社区。"
        "如需改绑，请先由{community}的管理员发送 /unbind。",
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

# ── intake, worker cards and the ticket desk (lead) ───────────────────────────────────────────
URGENCY_LABELS: dict[str, str] = {"urgent": "🔴 紧急", "normal": "普通"}
GROUP_ACK = "已收到，登记为 #{number}（{category}{urgent}）。\n由{role}{worker}负责，{promise}。"
GROUP_ACK_URGENT = "，紧急"
GROUP_ACK_QUOTE = "「{text}」\n"
PRIVATE_ACK = (
    "已收到您的反映，登记为 #{number}（{category}）。\n由{role}{worker}负责，{promise}。\n"
    "群里不会显示是谁反映的。发送 /ticket {number} 可查看进度。"
)
PROMISE_ACCEPT = "将在 {due} 前响应"
ROLE_GRID_WORKER = "网格员"
ROLE_DUTY = "值班网格员"
ROLE_SOCIAL = "社工"
ROLE_OFFICE = ""
NOBODY_YET = "社区工作人员"
UNDO_BUTTON = "撤回（不是投诉）"
UNDONE = "已撤回 #{number}，不再处理。"
# The reporter says under their acknowledgement that the problem is over (不用了，已经好了).
GONE_UNDO_OFFER = "问题已经没有了的话，点下面的按钮撤回 #{number}，网格员就不用再跑一趟了。"
GONE_UNDO_BUTTON = "撤回 #{number}"
GONE_TOLD = "好的，已告诉负责的网格员，确认后会办结 #{number}。"
GONE_TO_WORKER = "#{number} 反映人说问题已经没有了：{text}\n请确认后办结。"
UNDONE_TO_WORKER = "工单 #{number} 已由反映人撤回，无需处理。"
UNDO_TOO_LATE = "已超过撤回时间，工单 #{number} 已在处理中。如有疑问请联系网格员。"
CONFIRM_QUESTION = "{name}，您是想反映问题吗？请选一个最接近的类别："
CONFIRM_NOT_COMPLAINT = "不是投诉"
CONFIRM_OTHER = "其他问题"
CONFIRM_DISMISSED = "好的，不登记。"
ASK_BUILDING = "{name}，请问是哪栋楼的问题？点下面的楼号："
SIMILAR_OPEN = (
    "已有同类问题 #{number} 正在处理（{category}，{status}）。如果您也遇到了，请点“我也遇到”。"
)
FOLLOW_BUTTON = "我也遇到"
FOLLOWED = "已记录，#{number} 现在有 {count} 户反映。办结时会通知您。"
FOLLOW_ALREADY = "您已经关注了 #{number}。"
PHOTO_ADDED = "照片已加到 #{number}。"
REPORT_USAGE = "用法：/report 问题描述，例如：/report 5号楼楼道灯不亮了"
PRIVATE_NOT_UNDERSTOOD = "没太看明白要反映什么问题，能再具体说说吗？比如“3号楼电梯坏了”。"
HINT_POINTS = (
    "查积分请发 /points，积分兑换请发 /redeem。要反映问题，直接描述即可，比如“3号楼电梯坏了”。"
)
HINT_TASKS = "社区的任务和志愿活动请发 /tasks 查看，点按钮就能报名接单。"
HINT_GRID = "发 /mygrid 可以看到您的网格员是谁；有问题直接告诉我，我会转给负责的网格员。"
GROUP_ASIDE = "您好！要反映问题，直接在群里说或 @我 描述即可，比如“3号楼电梯坏了”；查自己工单的进度请发 /ticket 编号。"
# What a pointer answers, by the topic intake read (bot/services/intake.py _topic).
HINT_ADDRESS = (
    "登记住址请发 /register 楼栋 单元 房号，例如 /register 3 2 301，登记后可以参加积分。"
)
HINT_CONTACT = (
    "我这里查不到各单位的电话。可以发 /mygrid 看您的网格员是谁，直接问他们；"
    "有问题也可以直接告诉我，我会转给负责的网格员。"
)
HINT_PROGRESS = "查进度请发 /ticket 编号（登记时回复过您编号，例如 /ticket 12）。"
HINT_REPORT = "好的，请直接说说遇到了什么问题、在哪栋楼，比如“3号楼电梯坏了”，可以附照片。"
HINT_THANKS = "不客气！以后有问题随时告诉我。"
HINT_GREETING = (
    "您好！我是社区网格助手。有问题直接告诉我，比如“3号楼电梯坏了”，我会转给负责的网格员。"
)
ASIDE_HINTS = {
    "points": HINT_POINTS,
    "tasks": HINT_TASKS,
    "grid": HINT_GRID,
    "address": HINT_ADDRESS,
    "contact": HINT_CONTACT,
    "progress": HINT_PROGRESS,
}
# In a private chat also: a greeting, thanks, and "我要投诉" before saying what.
PRIVATE_HINTS = {
    **ASIDE_HINTS,
    "report": HINT_REPORT,
    "thanks": HINT_THANKS,
    "greeting": HINT_GREETING,
}
PRIVATE_UNREADABLE = "抱歉，我暂时听不了语音、也看不了这类文件。请用文字说一下问题（可以附照片），比如“3号楼电梯坏了”。"
STAFF_NOT_UNDERSTOOD = (
    "没太看明白。工作人员常用：/mytickets 我的待办 · /stats 三率统计 · 回复工单卡片写进展 · "
    "/help 全部用法。要登记一个问题，直接描述即可，例如“3号楼电梯坏了”。"
)
NOT_YOUR_BUTTON = "这个按钮只有反映人本人可以点。"
STALE_BUTTON = "这个按钮已失效。"
WORKER_UNREACHABLE_ADMIN = (
    "⚠️ {worker} 无法接收消息（没有打开机器人或已屏蔽），工单 #{number} 已转给 {fallback}。"
)
UNASSIGNED_ADMIN = "⚠️ 工单 #{number}（{category}）没有可派的工作人员，请尽快人工指派。"
GROUP_MIGRATED = "本群已升级为超级群，绑定已随群迁移。"

CARD_TITLE = "{icon} 工单 #{number} ｜ {category} ｜ {urgency}"
CARD_LOCATION = "📍 {location}"
CARD_TEXT = "📝 {text}"
CARD_REPORTER = "👤 反映人：{reporter}"
CARD_FOLLOWERS = "👥 {count} 户反映"
CARD_PHOTOS = "📷 照片 {count} 张"
CARD_ACCEPT_DUE = "⏰ 请在 {due} 前接单"
CARD_RESOLVE_DUE = "⏰ 请在 {due} 前办结"
CARD_STATUS = "状态：{status}"
CARD_ASSIGNEE = "负责人：{worker}"
CARD_PRIVATE = "（私下反映，勿在群里透露反映人）"
BTN_ACCEPT = "接单"
BTN_TRANSFER = "转派"
BTN_RETURN = "不属于我"
BTN_RESOLVE = "办结"
BTN_RESOLVE_NOW = "直接办结（不写说明）"
BTN_BACK = "« 返回"
BTN_CHANGE_CATEGORY = "改类别…"
TRANSFER_PICK = "把 #{number} 转给谁？或者改成别的类别："
TRANSFER_PICK_CATEGORY = "#{number} 应该是哪一类？"
TRANSFER_REASON = "请回复转派原因（一句话即可），#{number} 将转给 {target}。"
RETURN_PICK = "为什么 #{number} 不属于您？选一个原因，工单会退回值班网格员重新分派："
RESOLVE_NOTE = "请回复办结说明（可以附一张照片），或者点“直接办结”。"
ACCEPTED_GROUP = "#{number} {worker}已接单，正在处理。"
TRANSFERRED_GROUP = "#{number} 已转给{worker}处理。"
RETURNED_GROUP = "#{number} 正在重新分派。"
RESOLVED_GROUP = "#{number} 已办结{note}。"
RESOLVED_NOTE = "：{note}"
ACTION_DONE = "已收到您的选择。"
PROMPT_EXPIRED = "这个问题已过期，请在工单卡片上重新操作。"
LEARNED_NOTE = "已把 #{number} 改为“{category}”，分类器{explanation}。"
MYTICKETS_HEAD = "您有 {count} 件待办工单："
MYTICKETS_HEAD_LATE = "您有 {count} 件待办工单，其中 {late} 件已超时："
MYTICKETS_LINE = "{mark}#{number} {category} {place} {status}"
MYTICKETS_DUE = "｜{due} 前{action}{late}"
MYTICKETS_URGENT = "🔴"
MYTICKETS_LATE = "（已超时）"
MYTICKETS_ACTION_ACCEPT = "接单"
MYTICKETS_ACTION_RESOLVE = "办结"
MYTICKETS_NONE = "您没有待办工单 👍"
MYTICKETS_NOT_WORKER = "/mytickets 只给网格员和社区工作人员用。"
TICKET_USAGE = "用法：/ticket 编号，例如 /ticket 128"
TICKET_NOT_FOUND = "没有找到工单 #{number}。"
TICKET_PUBLIC = "#{number} {category} {place}：{status}{rating}"
TIMELINE_HEAD = "—— 处理记录 ——"
TIMELINE_LINE = "{at} {who}{what}{detail}"
BIND_USAGE = "用法：/bind 网格代码，例如 /bind g1（可写多个：/bind g1 g2）。可用网格：{grids}"
BIND_GROUP_ONLY = "/bind 要在小区群里使用。"
UNBOUND_GROUP_REPORT = "本群还没有绑定网格，管理员发送 /bind 网格代码 后才能受理。"

ERRORS.update(
    {
        "stale_button": STALE_BUTTON,
        "not_your_report": NOT_YOUR_BUTTON,
        "already_answered": "这个问题已经回答过了。",
        "question_expired": "这个问题已过期，请重新发送。",
        "bad_choice": "没有这个选项。",
        "unknown_building": "没有 {building} 号楼，请点按钮选择。",
        "undo_too_late": "已超过撤回时间，工单已在处理中。",
    }
)
TIMELINE_KINDS: dict[str, str] = {
    "opened": "反映问题",
    "accepted": "接单",
    "transferred": "转派",
    "returned": "退单",
    "reassigned": "改派",
    "resolved": "办结",
    "rejected": "不予受理",
    "duplicate": "标记为重复",
    "followed": "也遇到",
    "rated": "评价",
    "reopened": "重新办理",
    "closed_unrated": "评价期满关闭",
    "photo_added": "补充照片",
    "withdrawn": "撤回",
    "reminded": "提醒",
    "escalated": "上报",
    "whistle": "吹哨",
    "whistle_acked": "部门报到",
}
TIMELINE_SYSTEM = "系统"
TIMELINE_REPORTER = "反映人"
MERGED_PRIVATE = "已并入 #{number}。"
TYPED_BUILDING_UNKNOWN = "没看懂是哪栋楼（{text}），请点上面的楼号按钮，或回复如“5号楼”。"
TRANSFER_REASON_NEEDED = "请用一句话写明转派原因。"
TIMELINE_RESIDENT = "居民"

# ── tasks, points, redemption and schedule in the chat ────────────────────────────────────────
REGISTER_USAGE = "登记住址（请私聊我）：/register 楼栋 单元 房号，例如 /register 3 2 301"
REGISTER_DONE = "登记成功：{name}，{household}。完成任务得到的积分会计入您家和{building}号楼。"
TASK_USAGE = (
    "发布任务（网格员、管理员）：\n"
    "• /task new — 分步填写\n"
    "• /task new 标题 | 积分或难度 | 截止 11-30 | 名额 2 | 面向 物业公司\n"
    "  可选：地点 XX、说明 XX、时长 2（志愿服务小时）；不写“面向”即所有居民可接\n"
    "• /task from 工单编号 [| 积分 | 截止 …] — 把已办结的工单转为任务\n"
    "• /task close 任务编号 — 提前结束任务\n"
    "居民：/tasks 查看可接任务，完成后 /done 任务编号 并附上照片或视频。"
)
TASK_NOT_ALLOWED = "只有网格员和社区管理员可以发布任务。居民可以发送 /tasks 查看并接单。"
TASK_DIALOGUE_PRIVATE = "分步发布请私聊我发送 /task new；在群里请用一行格式：\n{usage}"
TASK_ASK_TITLE = (
    "发布新任务（随时回复“取消”可退出）。\n第 1 步：任务标题是什么？例如：更换3号楼2单元楼道灯泡"
)
TASK_ASK_POINTS = "第 2 步：给多少积分？写数字（如 10），或写难度：{levels}"
TASK_ASK_DEADLINE = "第 3 步：截止时间？例如 11-30 或 11-30 18:00；不限时间请回复“无”"
TASK_ASK_CAPACITY = "第 4 步：需要几个人？回复数字，例如 1"
TASK_ASK_AUDIENCE = (
    "第 5 步：谁可以接？回复“公开”（所有居民），或“面向 单位名”，例如 面向 物业公司"
)
TASK_ASK_EXTRAS = (
    "第 6 步（可选）：地点/说明/时长，例如：地点 3号楼2单元 | 说明 自带梯子 | 时长 1；"
    "不需要请回复“跳过”"
)
TASK_BAD_ANSWER = "没看懂，请再试一次。{hint}"
TASK_DIALOGUE_CANCELLED = "已取消。"
TASK_PUBLISHED = "✅ 已发布任务 #{task_id}「{title}」\n{details}"
TASK_DETAILS = "积分：{points} 分 · 名额：{capacity} 人{left}{deadline}{audience}{location}{hours}"
TASK_DETAIL_LEFT = "（余 {left} 个）"
TASK_DETAIL_FULL = "（已满）"
TASK_DETAIL_ENDED = "（已结束）"
TASK_DETAIL_DEADLINE = " · 截止：{when}"
TASK_DETAIL_PUBLIC = " · 所有居民可接"
TASK_DETAIL_TARGETED = " · 限{targets}承接"
TASK_DETAIL_LOCATION = "\n地点：{location}"
TASK_DETAIL_HOURS = " · 志愿服务 {hours} 小时"
TASK_CLOSED_DONE = "任务 #{task_id}「{title}」已结束，不再接单。"
TASKS_HEAD = "🙋 社区任务清单：{count} 个可接，点按钮接单（完成后私聊我 /done 任务编号 并附照片）"
TASKS_EMPTY = "目前没有可接的任务，谢谢关心社区！"
TASK_LINE_DESC = "   {description}"
CLAIM_OK = (
    "接单成功！任务 #{task_id}「{title}」。完成后私聊我发送 /done {task_id} 并附上照片或视频。"
)
CLAIM_PRIVATE_NOTE = (
    "您已接下任务 #{task_id}「{title}」（{points} 分）。\n"
    "完成后在这里发送 /done {task_id}，再发一张照片或视频作为凭证。"
)
CLAIM_NEEDS_REGISTER = (
    "请先私聊我登记住址：/register 楼栋 单元 房号，积分才能计入您家。登记后再点接单。"
)
BUTTON_STALE = "这个按钮已失效，请重新发送命令查看最新内容。"
DONE_USAGE = (
    "提交完成凭证：/done 任务编号，再发送照片或视频；也可以直接发照片并在说明里写 /done 任务编号。"
)
DONE_YOUR_CLAIMS = "您接的任务：\n{lines}"
DONE_CLAIM_LINE = "#{task_id}「{title}」— {status}"
CLAIM_STATUS_NAMES = {
    "claimed": "待提交凭证",
    "submitted": "待验收",
    "approved": "已通过",
    "returned": "被退回，请补交",
}
DONE_ASK_PROOF = "好的，请发送任务 #{task_id} 的完成照片或视频（回复“取消”可退出）。"
DONE_NEED_MEDIA = "请发送照片或视频作为任务 #{task_id} 的完成凭证，或回复“取消”。"
DONE_SUBMITTED = "已提交任务 #{task_id} 的完成凭证，等待验收，结果会私聊通知您。"
DONE_SUBMITTED_GROUP = "已收到任务 #{task_id} 的完成凭证，等待验收。"
VERIFY_CARD = (
    "📝 任务验收 #{task_id}「{title}」\n"
    "完成人：{name}\n"
    "积分：{points} 分\n"
    "{note}请核对凭证后点“通过”或“退回”。"
)
VERIFY_NOTE = "说明：{note}\n"
VERIFY_VIDEO_NOTE = "（凭证为视频，见上一条消息）\n"
VERIFY_BUTTON_OK = "✅ 通过"
VERIFY_BUTTON_RETURN = "↩️ 退回"
VERIFY_APPROVED = "✅ 已通过（验收人：{by}），{name} 获得 {points} 分。"
VERIFY_RETURNED = "↩️ 已退回（验收人：{by}）：{reason}"
VERIFY_ASK_REASON = "请回复退回任务 #{task_id}（{name}）的原因，居民会看到（回复“取消”可退出）。"
VERIFY_ANSWER_OK = "已通过"
VERIFY_ANSWER_ASK = "请在私聊中回复退回原因"
VERIFY_NO_VERIFIER = "任务 #{task_id} 的凭证暂时无人可验收，已记录，请稍后联系网格员。"
RESIDENT_APPROVED = (
    "🎉 任务 #{task_id}「{title}」已验收通过，获得 {points} 分{hours}。当前余额 {balance} 分。"
)
RESIDENT_APPROVED_HOURS = "、志愿服务 {hours} 小时"
RESIDENT_RETURNED = "任务 #{task_id}「{title}」的凭证被退回：{reason}\n补做后请重新发送 /done {task_id} 并附上照片。"
DIALOGUE_CANCELLED = "已取消。"

POINTS_SUMMARY = "🏅 {name} 的积分\n当前余额：{balance} 分（累计获得 {earned} 分{hours}）"
POINTS_SUMMARY_HOURS = "，志愿服务 {hours} 小时"
POINTS_HOUSEHOLD = "家庭（{household}）合计：{total} 分"
POINTS_BUILDING = "{building}号楼累计获得：{total} 分"
POINTS_NOT_REGISTERED = "还没有登记住址，家庭积分无法合计。发送 /register 楼栋 单元 房号 登记。"
POINTS_RECENT_HEAD = "最近变动："
POINTS_RECENT_LINE = "{date} {delta:+d} {reason}"
POINTS_RECENT_NONE = "暂无积分变动。完成 /tasks 里的任务即可获得积分。"
POINTS_SENT_PRIVATELY = "已把积分明细私聊发给您。"
POINTS_OPEN_BOT = "请先私聊我并点“开始”，再发送 /points 查看积分：{link}"
POINTS_LOOKUP_USAGE = "管理员查看他人积分：/points 姓名 或 /points 用户ID"
AWARD_USAGE = (
    "{command} 姓名 清单项目 原因（或回复居民的消息：{command} 清单项目 原因；"
    "重名时用用户ID）\n可用：{known}"
)
AWARD_WRONG_SIGN_AWARD = "“{name}”是扣分项，请用 /deduct。"
AWARD_WRONG_SIGN_DEDUCT = "“{name}”是加分项，请用 /award。"
AWARD_DONE = "已记录：{name} {delta:+d} 分（{reason}），当前余额 {balance} 分。"
AWARD_NOTICE = (
    "您的积分变动：{delta:+d} 分（{reason}）。当前余额 {balance} 分。发送 /points 查看明细。"
)
AWARD_NOT_DELIVERED = "（对方还没有私聊过我，无法通知本人）"

REDEEM_HEAD = "🎁 积分兑换清单{balance}："
REDEEM_BALANCE = "（您的余额 {balance} 分）"
REDEEM_LINE = "• {name} — {points} 分（库存 {stock}）"
REDEEM_EMPTY = "兑换清单暂时是空的。"
REDEEM_BUTTON = "兑换 {name}（{points}分）"
REDEEM_REQUESTED = "已申请兑换 {item}，已扣除 {points} 分，管理员核准后通知您领取。"
REDEEM_CARD = (
    "🎁 兑换申请 #{redemption_id}：{name} 申请 {item} ×{quantity}（{points} 分）\n状态：{status}"
)
REDEEM_STATUS_NAMES = {
    "requested": "待核准",
    "approved": "已核准，待发放",
    "handed_over": "已发放",
    "rejected": "已拒绝",
}
REDEEM_CARD_BY = "（{by}）"
REDEEM_CARD_REASON = "\n原因：{reason}"
REDEEM_BUTTON_APPROVE = "核准"
REDEEM_BUTTON_HAND_OVER = "已发放"
REDEEM_BUTTON_REJECT = "拒绝"
REDEEM_PENDING_HEAD = "待处理的兑换申请 {count} 个："
REDEEM_ASK_REASON = (
    "请回复拒绝兑换申请 #{redemption_id} 的原因，积分会退回给居民（回复“取消”可退出）。"
)
REDEEM_NOTICE_APPROVED = "您的兑换申请 #{redemption_id}（{item}）已核准，请到社区服务站领取。"
REDEEM_NOTICE_HANDED = "您兑换的 {item} 已发放，谢谢参与社区服务！"
REDEEM_NOTICE_REJECTED = (
    "您的兑换申请 #{redemption_id}（{item}）未通过：{reason}。{points} 分已退回。"
)
REDEEM_ANSWER_DONE = "已处理"
REDEEM_MINE = (
    "🎁 兑换申请 #{redemption_id}：{item} ×{quantity}，已扣除 {points} 分，等待管理员核准。"
)
REDEEM_BUTTON_CANCEL = "取消申请"
REDEEM_CANCELLED = "已取消兑换申请 #{redemption_id}（{item}），{points} 分已退回。"
REDEEM_ANSWER_CANCELLED = "已取消，积分已退回"
REDEEM_CANCELLED_TO_ADMIN = "兑换申请 #{redemption_id}（{name}，{item}）已由本人取消。"

SCHEDULE_ONLY_GROUP = "请在要调整的业主群里发送 /schedule。"
SCHEDULE_NOT_BOUND = "本群还没有绑定到网格，管理员先发送 /bind 网格代码。"
SCHEDULE_OFF = "不发"
SCHEDULE_DAILY = "每天 {at}"
SCHEDULE_WEEKLY = "每{day} {at}"
SCHEDULE_MONTHLY = "每月{day}日 {at}"
SCHEDULE_QUIET = "{begin}—{end}"
SCHEDULE_ON = "开"
SCHEDULE_DETAIL_BALANCES = "公示变动居民的余额"
SCHEDULE_DETAIL_TOTALS = "只公示总数"
SCHEDULE_WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

ERRORS.update(
    {
        "resident_bad_address": "登记格式不对：" + REGISTER_USAGE,
        "resident_not_registered": "还没有登记住址。请先私聊我发送 /register 楼栋 单元 房号。",
        "redeem_cancel_too_late": "兑换申请 #{redemption_id} 已由管理员处理，如需取消请联系管理员。",
    }
)

# ── ticket lifecycle in the chat: ratings, 不予受理, 重复, whistles, /stats ───────────────────────
RATED_MESSAGE = "#{number} 已评价：{rating}。谢谢您的反馈！"
RATED_REOPENED_MESSAGE = "#{number} 评价：不满意。已重新交给{worker}继续处理，社区居委会会跟进。"
RATING_WINDOW_OVER = "#{number} 的评价期已过，工单已关闭。谢谢关注！"
BTN_REJECT = "不予受理…"
BTN_DUPLICATE = "与已有工单重复…"
REJECT_PICK = "#{number} 不予受理的原因？点一个常用原因，或直接回复一句话（反映人会看到）："
REJECT_REASONS: dict[str, str] = {
    "out_of_scope": "不属于社区受理范围",
    "civil_dispute": "属于个人民事纠纷，建议双方协商或通过法律途径解决",
    "not_found": "现场核实没有发现这个问题",
    "no_info": "信息不足，无法核实",
}
REJECTED_TO_REPORTER = "#{number} 经社区审核，不予受理。原因：{reason}\n如有疑问，请联系{worker}。"
REJECTED_TO_FOLLOWER = "您关注的问题 #{number} 不予受理。原因：{reason}"
REJECT_DONE = "已不予受理 #{number}，已告知反映人。"
DUPLICATE_ASK = "#{number} 与哪张工单重复？请回复原工单号，例如 #12（回复“取消”可退出）。"
DUPLICATE_NUMBER_NEEDED = "请回复原工单号，例如 #12（回复“取消”可退出）。"
DUPLICATE_TO_REPORTER = (
    "#{number} 与 #{of_number} 是同一个问题，已合并到 #{of_number} 一起处理，办结时会通知您。"
)
DUPLICATE_DONE = "已把 #{number} 标为 #{of_number} 的重复工单，反映人已加入 #{of_number} 的关注。"
PROMPT_CANCEL_WORDS = ("取消", "算了")
PROMPT_CANCELLED = "已取消。"
WHISTLE_ACKED_MARK = "\n\n✅ 已确认"
CARD_PRIORITY = "🔺 已提高优先级"
STATS_USAGE = (
    "用法：/stats [时段]。时段可写：本月（默认）、上月、本周、今天、7d（最近 7 天）、"
    "2026-11（某月）、2026-11-01..2026-11-30（日期范围）。"
)
STATS_NOT_STAFF = "/stats 只给社区管理员和网格员使用。"
STATS_SENT_PRIVATELY = "统计已私聊发给您。"
STATS_OPEN_BOT = "统计不在群里公布。请先私聊我并点“开始”，再发送 /stats。"
STATS_PERIOD_WORDS: dict[str, str] = {
    "本月": "month",
    "month": "month",
    "上月": "last_month",
    "last_month": "last_month",
    "本周": "week",
    "week": "week",
    "今天": "today",
    "today": "today",
}

# Timeline words for the sweep's and the followers' events.
TIMELINE_KINDS.update(
    {
        "whistled": "吹哨（呼叫职能部门）",
        "whistle_lapsed": "吹哨未响应，报街道",
        "priority_raised": "多户反映，提高优先级",
    }
)
PUBLISH_BUTTON = "在群里公示（不显示我的名字）"
PUBLISHED_GROUP = "有居民私下反映了一个问题，登记为 #{number}（{category}，{place}）：「{quote}」\n由{role}{worker}负责。"
PUBLISHED_OK = "已在“{group}”公示 #{number}，没有显示您的名字。"
PUBLISH_NO_GROUP = "没有找到负责这个网格的小区群，未公示。"
TIMELINE_KINDS["published"] = "在群里公示"
ERRORS.update({"already_published": "#{number} 已经公示过了。"})

# ── runtime: delivery, storage and instances ─────────────────────────────────────────────────
OLDER_COPY_PRESSED = "这是一条重复发出的旧消息，请使用下方最新的那一条。"
STORAGE_DOWN_ADMIN = (
    "GridBot 暂时无法写入数据库（磁盘已满或文件只读）。新消息会在恢复后继续处理，不会丢失；"
    "请尽快清理磁盘空间或检查文件权限。"
)
DELIVERY_FAILED_ADMIN = "有一条消息被 Telegram 拒收，未能送达（{purpose}）。原因：{reason}"
DELIVERY_PURPOSES: dict[str, str] = {
    "card": "网格员工单卡片",
    "delivery_failed": "送达失败提醒",
    "": "机器人回复",
}

# ── intake: conversations with residents (issue 14) ──────────────────────────────────────────
# The first line of any answer to a message about a danger: call the emergency number first.
CALL_FIRST: dict[str, str] = {
    "119": "🚨 如有火情、烟雾、燃气泄漏或有人被困，请立即拨打 119，确保自身安全！",
    "110": "🚨 如遇违法犯罪或人身危险，请立即拨打 110 报警！",
    "120": "🚨 如有人受伤或突发疾病，请立即拨打 120 急救电话！",
}
TIMELINE_KINDS.update(
    {
        "added_words": "补充反映",
        "source_edited": "修改了原话",
        "unsatisfied_reason": "说明不满意原因",
    }
)
ADDED_WORDS_TO_WORKER = "#{number} 反映人补充：{text}"
SOURCE_EDITED_TO_WORKER = "#{number} 反映人修改了原话，现在是：{text}"
ADDED_TO_TICKET = "已补充到 #{number}，负责人会看到。"
ASK_BUILDING_WITH_PLACES = (
    "{name}，请问是哪栋楼或哪个地方的问题？点下面的按钮，或直接回复如“5号楼”“东门”："
)
LOCATION_UNKNOWN_BUTTON = "不清楚"
LOCATION_UNKNOWN_LABEL = "位置：不清楚（由值班网格员核实）"
TYPED_LOCATION_UNKNOWN = (
    "没看懂是哪栋楼或哪个地方（{text}），请点上面的按钮，或回复如“5号楼”“东门”“不清楚”。"
)
CONFIRM_ALL_QUESTION = "{name}，没看出是哪类问题，请选一个最接近的类别："
OWN_TICKET_STATUS = (
    "{name}，您反映的 #{number}（{category}，{place}）现在{status}，负责人：{role}{worker}。{due}"
)
OWN_TICKET_ACCEPT_DUE = "应在 {due} 前接单。"
OWN_TICKET_RESOLVE_DUE = "应在 {due} 前办结。"
OWN_TICKET_ESCALATED = "已经超时，社区居委会正在督办。"
OWN_TICKET_MORE = "有新情况可以直接补充，或回复照片。"
PROOF_WAITING = "还在等任务 #{task_id} 的完成照片或视频。请直接发送照片或视频；回复“取消”可退出，之后再反映其他问题。"
UNSATISFIED_ASK_REASON = "{name}，很抱歉没让您满意。请说说哪里不满意（直接回复一句话），我会转告负责人和社区书记。回复“取消”可不填。"
UNSATISFIED_REASON_THANKS = "已转告负责人和社区：{reason}"
UNSATISFIED_REASON_TO_WORKER = "#{number} 居民说明了不满意的原因：{reason}"
UNSATISFIED_REASON_TO_OFFICE = (
    "【工单回访】#{number}（{category}）居民不满意的原因：{reason}（负责人：{worker}）"
)
MYGRID_ANSWER = "您住{building}号楼，属于{grid}。网格员：{worker}{phone}。有问题可以在群里直接说，或私聊我反映。"
MYGRID_PHONE = "（电话 {phone}）"
MYGRID_ASK = "请告诉我您住哪栋楼，例如：/mygrid 7号楼（也可以先私聊我 /register 登记住址，以后直接发 /mygrid）。"
MYGRID_UNKNOWN_BUILDING = "本社区没有“{text}”这栋楼。请发送如 /mygrid 7号楼。"
MYGRID_NO_WORKER = (
    "您住{building}号楼，属于{grid}，网格员暂未安排，有问题可以直接在群里说或私聊我反映。"
)
MYGRID_SENT = "已私聊告诉您。"

# ── records (issue 14): honest records, office hours, approvals, undeliverable escalations ──
ACCEPTED_FOR_GROUP = "#{number} {admin}已代为接单（负责人：{worker}），正在处理。"
TIMELINE_STAFF = "工作人员"
TIMELINE_DEPARTMENT = "职能部门"
RECATEGORISED_KEPT = "已把 #{number} 的类别改为“{category}”，仍由您负责，时限不变。"
TIMELINE_KINDS["recategorised"] = "更正类别"
CARD_TRANSFERRED = "↪️ 转派原因：{reason}（{by}）"
CARD_RETURNED = "↩️ 退回原因：{reason}（{by}）"
CARD_REASSIGNED = "↪️ 原负责人暂时联系不上，已改派给您"
STREET_OFFICE = "街道办"
DEPARTMENT_WORD = "职能部门"
ESCALATION_NOT_SET = (
    "⚠️ 工单 #{number}（{category}）已超时，应报{target}，但还没有{target}的联系人，无法送达。"
    "请在社区配置文件里填写联系人，或生成邀请链接请对方绑定；在此之前请社区直接督办。"
)
ESCALATION_REFUSED = (
    "⚠️ 工单 #{number} 的督办消息没能送到{target}：对方还没有打开机器人，或联系人账号有误。"
    "请核对联系人，或生成邀请链接请对方绑定；在此之前请社区直接联系。"
)
TIMELINE_KINDS["escalation_undeliverable"] = "督办无法送达"
INVITE_LINKED_CONTACT = (
    "绑定成功！您是{name}的联系人。{community}的工单需要督办或协同处理时，会私聊发给您。"
)
INVITE_UNKNOWN_KEY = "社区配置里没有“{key}”。可邀请的有：{known}"
LATE_UNDER_A_MINUTE = "不到 1 分钟"
REJECT_APPROVAL_ASK = (
    "【不予受理待审批】工单 #{number}（{category}），{worker}申请不予受理。\n原因：{reason}\n"
    "居民反映：{text}\n批准后才会告知反映人。"
)
BTN_REJECT_APPROVE = "同意不予受理"
BTN_REJECT_REFUSE = "不同意，继续办理"
REJECT_REQUESTED = (
    "已把 #{number} 的不予受理申请交给社区审批；批准后才会告知反映人，结果会通知您。"
)
REJECT_APPROVED_TO_WORKER = "#{number} 的不予受理申请已由{admin}批准，已告知反映人。"
REJECT_REFUSED_TO_WORKER = "#{number} 的不予受理申请{admin}没有同意，请继续办理。"
REJECT_DECIDED_APPROVED = "已同意 #{number} 不予受理，已告知反映人和网格员。"
REJECT_DECIDED_REFUSED = "已退回 #{number} 的不予受理申请，网格员会继续办理。"
REJECT_DECIDED_DROPPED = "#{number} 已经换了负责人或已结束，这个申请不再需要审批。"
CARD_REJECT_PENDING = "⏳ 不予受理申请待社区审批：{reason}"
TIMELINE_KINDS["reject_requested"] = "申请不予受理"
TIMELINE_KINDS["reject_refused"] = "不同意不予受理"
ERRORS.update(
    {
        "reject_needs_approval": "#{number} 不予受理要经社区管理员批准，请通过工单卡片申请。",
        "reject_pending": "#{number} 的不予受理申请正在等社区审批。",
        "reject_decided": "#{number} 的不予受理申请已经处理过了。",
        "reject_no_approver": "#{number} 不予受理需要社区管理员审批，但还没有可联系的管理员。",
    }
)

# ── triage: the grid worker's list of possible problems (可能的问题) ─────────────────────────────
TRIAGE_ITEM = "🔎 可能的问题（群里未回复）\n{name}：{quote}\n{link}猜测类别：{category}\n请在 {due} 前确认：是问题就立案，不是就忽略。"
TRIAGE_LINK = "原消息：{url}\n"
TRIAGE_OPEN_BUTTON = "立案"
TRIAGE_DISMISS_BUTTON = "不是问题"
TRIAGE_OPENED = "✅ 已立案（由 {name} 确认）"
TRIAGE_DISMISSED = "已忽略：不是问题。以后类似的话会少提醒你。"
TRIAGE_ALREADY = "这条已经有人处理过了"
TRIAGE_NOT_YOURS = "只有负责的网格员或社区工作人员可以处理这条"
TRIAGE_DIGEST = "🗂 无人处理的可能问题（{count} 条，已过确认时限）：\n{lines}"
TRIAGE_DIGEST_LINE = "· {when} {name}：{quote}"
TRIAGE_UNKNOWN_CATEGORY = "未定"
ERRORS.update(
    {
        "triage_not_yours": TRIAGE_NOT_YOURS,
        "triage_handled": TRIAGE_ALREADY,
    }
)
# ── Operations (ops): start-up, health, holiday calendar ──────────────────────────────────────
HOLIDAYS_MISSING = (
    "⚠️ 节假日提醒：系统里还没有 {year} 年的法定节假日和调休安排。"
    "在补上之前，{year} 年的办理时限只按周一至周五算工作日，春节、国庆等假期会被当作工作日。\n"
    "请升级 GridBot，或在社区配置文件里加一节 [holidays.{year}]，"
    "写明放假日（off）和调休上班日（work），重启后生效。"
)

# ── Staff settings (ops): /schedule in Chinese, answered privately ────────────────────────────
SCHEDULE_LABELS: dict[str, str] = {
    "digest": "每日简报",
    "weekly": "积分公示",
    "monthly": "月报",
    "points_detail": "公示明细",
    "quiet_hours": "免打扰",
    "reminders": "活动提醒",
}
SCHEDULE_HINTS: dict[str, str] = {
    "digest": "时间或“关闭”，例如 08:30",
    "weekly": "星期和时间，或“关闭”，例如 周日 18:00",
    "monthly": "日期和时间，或“关闭”，例如 25 09:00",
    "points_detail": "“余额”（公示变动居民的余额）或“总数”（只公示总数）",
    "quiet_hours": "起止时间或“关闭”，例如 22:00-07:00",
    "reminders": "“开”或“关”",
}
SCHEDULE_SHOW = (
    "⏰ {group}的定时发布设置（{tz}）：\n"
    "每日简报：{digest}\n"
    "积分公示：{weekly}（{detail}）\n"
    "月报：{monthly}\n"
    "免打扰：{quiet}\n"
    "活动提醒：{reminders}\n"
    "在群里修改：/schedule 每日简报 08:30 · /schedule 积分公示 周日 18:00 · "
    "/schedule 积分公示 关闭 · /schedule 月报 25 09:00 · /schedule 公示明细 总数 · "
    "/schedule 免打扰 22:00-07:00 · /schedule 活动提醒 关 · /schedule 重置"
)
SCHEDULE_THIS_GROUP = "本群"
SCHEDULE_NAMED_GROUP = "“{title}”"
SCHEDULE_CHANGED = "已更新。\n{show}"
SCHEDULE_CHANGED_GROUP = "✅ 本群定时发布已调整：{label}改为{value}。"
SCHEDULE_RESET_GROUP = "✅ 本群定时发布已恢复默认设置。"
SCHEDULE_SENT_PRIVATELY = "本群的定时发布设置已私聊发给您。"
SCHEDULE_OPEN_BOT = "设置详情只私聊发送。请先私聊我并点“开始”：{link}"
SCHEDULE_USAGE = "用法：/schedule 项目 值，例如 /schedule 每日简报 08:30。可设置：{known}"

# ── Staff commands (ops): a person by name or by reply ────────────────────────────────────────
AWARD_NAME_UNKNOWN = (
    "没有找到叫“{name}”的居民。请回复对方在群里的消息发送 {command}，或改用用户ID。"
)
AWARD_NAME_AMBIGUOUS = (
    "有 {count} 位叫“{name}”的居民：{people}。请回复对方在群里的消息发送 {command}，或改用用户ID。"
)
AWARD_NAME_CANDIDATE = "{name}（ID {user_id}）"
REGISTER_PRIVATE_ONLY = "住址是个人信息，请私聊我登记（群里发的不会记录）：{link}"
REGISTER_BUILDINGS = "{buildings}号楼"
DEEP_LINK_HINTS: dict[str, str] = {
    "register": REGISTER_USAGE,
    "points": "发送 /points 查看您的积分。",
    "schedule": "回到业主群发送 /schedule，设置会私聊发给您。",
    "stats": "",
}
ERRORS.update(
    {
        "resident_unknown_building": "本社区没有“{building}”。可登记的楼栋：{known}。请重新发送 /register 楼栋 单元 房号。",
    }
)

# ── Words people see (ops): names for what has none ───────────────────────────────────────────
STATS_UNKNOWN_ROW: dict[str, str] = {
    "worker": "未派单",
    "grid": POSTS_NO_GRID,
    "community": "全社区",
    "street": "全街道",
}
# A worker's press or answer is confirmed with what happened, not a bare 好的。
DONE_ACCEPTED = "已接单 #{number}。"
DONE_RETURNED = "已退回 #{number}，等待重新分派。"
DONE_RESOLVED = "已办结 #{number}，已请反映人评价。"
DONE_TRANSFERRED = "已把 #{number} 转给{worker}。"
# How a finished ticket's card looks: each ending its own mark.
CARD_FINAL_ICONS: dict[str, str] = {
    "resolved": "✅",
    "closed": "✅",
    "rejected": "🚫",
    "duplicate": "🔁",
    "withdrawn": "↩️",
}
TIMELINE_ROLE_NAMES: dict[str, str] = {
    "worker": "网格员",
    "admin": "社区管理员",
    "department": "职能部门",
    "follower": "居民",
}
# ── privacy (issue 11: private means private, data with a lifetime) ──
ERRORS.update(
    {
        "follow_not_member": "只有问题 #{number} 所在群的成员可以点“我也遇到”。",
    }
)
ANONYMOUS_ADMIN = (
    "您现在以“群组匿名管理员”身份发言，机器人无法确认您是谁。"
    "请关闭匿名（群设置 → 管理员 → 您自己 → 保持匿名），或用您自己的账号私聊机器人后再试。"
)
UNBIND_GROUP_ONLY = "/unbind 要在需要解除绑定的小区群里使用。"
MYDATA_PRIVATE_ONLY = "为保护您的隐私，请私聊机器人发送 /mydata 查看您的数据。"
FORGET_PRIVATE_ONLY = "请私聊机器人发送 /forget 删除您的数据。"
AUDIT_PRIVATE_ONLY = "操作记录只在私聊中查看：请私聊机器人发送 /audit。"
MYDATA_HEAD = "本机器人保存的关于您的信息（完整内容见附件）："
MYDATA_LINES = {
    "account": "账号记录：{count} 条（名字、何时打开过机器人）",
    "household": "住户登记：{count} 条（楼栋、单元、房号）",
    "reported": "您反映的问题：{count} 件",
    "followed": "您点过“我也遇到”的问题：{count} 件",
    "ratings": "您的评价：{count} 条",
    "photos": "您发的照片：{count} 张",
    "points": "积分记录：{count} 条",
    "balance": "积分余额：{count} 条",
    "tasks": "认领的任务：{count} 个",
    "redemptions": "兑换记录：{count} 条",
}
MYDATA_MESSAGES = "尚未清理的原始消息：{count} 条（{days} 天后自动删除）"
MYDATA_RETENTION = (
    "已结束的工单在 {days} 天后自动匿名化（统计数字保留）。发送 /forget 可删除您的数据。"
)
MYDATA_FILENAME = "我的数据.json"
FORGET_CONFIRM = (
    "确定要删除您的数据吗？\n"
    "· 您的名字、住户登记、照片、私聊消息将被删除；\n"
    "· 已结束的工单内容会被删除，未结束的工单保留问题描述（电话、身份证号已遮盖）供网格员处理；\n"
    "· 积分记录改为匿名保存，您将不能再使用这些积分。\n"
    "此操作不能撤销。"
)
FORGET_BUTTON_YES = "确定删除"
FORGET_BUTTON_NO = "取消"
FORGET_DONE = "已删除您的数据。以后您再发消息，会作为新用户处理。"
FORGET_CANCELLED = "已取消，您的数据未做改动。"
FORGET_STAFF = "工作人员的账号与工作记录相关，不能自行删除，请联系社区管理员。"
AUDIT_HEAD = "最近的管理操作（共 {count} 条）："
AUDIT_EMPTY = "还没有管理操作记录。"
AUDIT_LINE = "{at} {actor} {action} {target}"
AUDIT_SYSTEM = "系统"
AUDIT_ACTIONS = {
    "bind": "绑定群",
    "unbind": "解除绑定",
    "award": "加分",
    "deduct": "扣分",
    "transfer": "转派",
    "reject": "不予受理",
    "approve": "审核通过",
    "settings": "修改设置",
    "forget": "应居民要求删除数据",
    "anonymise": "到期匿名化工单",
}
AUDIT_TASK_TARGET = "任务 {task_id}"
AUDIT_REDEMPTION_TARGET = "兑换 {redemption_id}"

# ── a street office's deployment: several communities in one bot ───────────────────────────────
STREET_DEFAULT = "本街道"
STREET_NONE = "未选择"
STREET_GROUP_UNBOUND = "本群还没有绑定到社区，我暂时不受理群里的问题。请社区管理员在群里发送 /bind 网格代码 完成绑定。"
STREET_WHO_ARE_YOU = (
    "您好！我是{street}各社区的网格助手。请在您所在小区的业主群里直接说问题或@我，"
    "或发送 /community 选择您所在的社区后在这里反映；"
    "社区工作人员请打开社区发给您的邀请链接。"
)
STREET_CHOOSE = (
    "您在多个社区都有身份：{names}。请先发送 /community 社区名称 选择要办理的社区，"
    "之后私聊里的操作都在这个社区办理。"
)
STREET_YOURS = (
    "您所在的社区：{names}。\n私聊里当前办理的是：{current}。\n"
    "本街道的社区：{every}。发送 /community 社区名称 可选择。"
)
STREET_NOT_YOURS = "没有找到“{name}”。本街道的社区：{names}"
STREET_CHOSEN = "好的，接下来私聊里办理的是：{name}。"
STREET_PRIVATE_ONLY = "请在私聊里发送 /community 选择社区。"
INVITE_WHICH_COMMUNITY = "请用 --community 写明是哪个社区的邀请：{names}"
STREET_BUTTON_UNKNOWN = "这个按钮找不到所属社区了，请重新打开最新的消息。"

# ── a worker's progress notes (a reply to their card) ─────────────────────────────────────────
NOTE_SAVED = (
    "已记入 #{number} 的处理记录（只有工作人员看得到）：{note}\n要把这条进展告诉反映人吗？"
)
BTN_NOTE_SHARE = "告诉反映人"
NOTE_SHARED_DONE = "已把 #{number} 的进展告诉反映人。"
NOTE_TO_GROUP = "#{number} 进展（{worker}）：{note}"
NOTE_TO_REPORTER = "您反映的 #{number} 有新进展（{worker}）：{note}"
NOTE_EMPTY = "请直接回复文字说明 #{number} 的进展。"
TIMELINE_KINDS.update({"noted": "进展记录", "note_shared": "进展已告诉反映人"})
ERRORS["note_shared"] = "#{number} 的这条进展已经告诉过反映人了。"
ERRORS["reporter_forgotten"] = "#{number} 的反映人已删除个人数据，无法私下转告。"
