"""The complaint gate on each kind of non-complaint, urgency, and classifier isolation."""

from __future__ import annotations

from dataclasses import replace

import jieba
import pytest

from bot.nlp import Classifier, LexiconError
from bot.nlp.gate import Gate, load_gate

NOT_COMPLAINTS = {
    "thanks": "多谢物业师傅，楼道灯换好了，晚上亮堂多了",
    "selling": "转让车库车位一个，价格私聊",
    "renting": "求租2号楼附近的车位，长租",
    "vote": "投票：加装电梯方案一还是方案二，请接龙",
    "notice": "【通知】本周五上午电梯维保，请大家错峰出行",
    "relayed notice": "物业说周三下午停水检修，大家提前储水哈",
    "schedule question": "请问物业办公室几点开门",
    "already reported": "电梯的事我已经报过了，师傅说下午来修",
    "banter": "哈哈上次停电全楼下来乘凉，跟开派对一样",
    "advice": "你家地漏返臭可以试试防臭芯，网上几块钱",
    "group rules": "群规：本群禁止发广告，违者移出",
    "forwarded warning": "转发：反诈提醒，陌生电话让转账的都是骗子",
    "greeting": "各位邻居早上好，周末愉快",
    "event": "社区消防知识讲座周六上午开讲，欢迎报名",
    "lost and found": "在5号楼停车位旁边捡到一串钥匙，放门卫了",
    "selling a broken appliance": "出一台旧烤箱，温控坏了，拆件也行，自提",
    "praise of an improvement": "路灯换成新的以后晚上亮堂多了",
    "pets playing": "邻居家的柯基在草坪上撒欢，跑得耳朵都飞起来了",
    "a planned outage relayed": "听说后天上午要检修线路停电，冰箱里别放太多东西",
    "asking where to repair one's own thing": "谁知道附近哪里能修洗衣机",
    "a repair over, joked about": "水压修好以后，洗澡跟做SPA一样哈哈",
    "a closed portal case": "来电人表示：先前投诉的楼道照明问题现已修复完毕，同意结案。",
    "one's own workplace": "我们公司的空调又坏了，开会热得要命",
    "a repair done by the workers": "门口那棵歪脖子树的断枝绿化队下午锯掉了",
    "a new facility praised": "东门新增了两个快递柜，取件近多了",
    "buying broken things": "高价回收旧冰箱旧空调，坏的也收，上门拿",
    "advice for when it happens": "车位被占的话可以拨车上的挪车电话",
    "a thing one broke oneself": "电动车电池被我充坏了 有没有回收的",
    "a relayed outage in Cantonese": "管理處話聽朝停水 大家儲定啲水",
    "a rule on throwing from height": "高空抛物是犯罪 大家管好自家孩子",
}

# Danger words that are not a danger here and now: news from elsewhere, a film, a game, a drill,
# animals or one's own children fighting, an event that is over. None is urgent or ticketed.
NOT_LIVE = {
    "news from elsewhere": "新闻说外省一栋楼煤气爆炸，大家用完燃气记得关阀",
    "a film": "昨晚看的电影里电梯困人那段太吓人了",
    "a game": "我家小子打游戏，一直喊着火了快跑",
    "animals fighting": "两只流浪猫在花坛里打架，打完又一起晒太阳",
    "own children fighting": "俩娃为了抢零食打起来了，各打五十大板",
    "a drill": "下午三点消防演习，楼道会有烟，请勿惊慌",
    "an event that is over": "上周那次电梯困人的大爷已经没事了，谢谢大家关心",
}


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load()


@pytest.mark.parametrize("kind", sorted(NOT_COMPLAINTS))
def test_a_message_of_every_non_complaint_kind_is_ignored(clf: Classifier, kind: str) -> None:
    reading = clf.classify(NOT_COMPLAINTS[kind])
    # Advice naming a thing and its problem (地漏 + 返臭) may reach the worker's private list,
    # never the group.
    # So may a gripe about one's own workplace (公司的空调坏了).
    expected = ("ignore", "triage") if kind in ("advice", "one's own workplace") else ("ignore",)
    assert reading.decision in expected, (kind, reading.evidence)
    assert any(w.startswith("-") for w in reading.evidence)  # it names the words against


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("5号楼电梯又去休假了，爬楼爬到腿软", "facilities"),
        ("楼道灯坏了一个星期了，晚上黑漆漆的", "facilities"),
        ("又有人在楼道里飞线充电", "fire_safety"),
    ],
)
def test_a_complaint_and_irony_about_a_live_problem_open_a_ticket(
    clf: Classifier, text: str, category: str
) -> None:
    reading = clf.classify(text)
    assert (reading.decision, reading.category) == ("ticket", category)


@pytest.mark.parametrize("kind", sorted(NOT_LIVE))
def test_danger_words_not_here_and_now_are_neither_urgent_nor_ticketed(
    clf: Classifier, kind: str
) -> None:
    reading = clf.classify(NOT_LIVE[kind])
    assert reading.decision != "ticket", (kind, reading.evidence)
    assert (reading.urgency, reading.call_first) == ("normal", ""), kind


def test_a_call_for_help_keeps_danger_live_beside_evidence_against(clf: Classifier) -> None:
    # 快来人 asks for help: the notice-like 请勿 does not make a fire a drill.
    reading = clf.classify("3号楼楼道着火了，请勿乘电梯，快来人")
    assert (reading.decision, reading.call_first) == ("ticket", "119")


@pytest.mark.parametrize(
    "text", ["麻烦问一下灭火器哪里能买到", "能不能管管灭火器", "请物业安排一下灭火器"]
)
def test_a_request_about_a_heavy_topic_with_no_problem_said_reaches_only_the_worker(
    clf: Classifier, text: str
) -> None:
    # It scores above `ticket` (a heavy topic and a request), but says no problem: the group
    # hears nothing, the worker's triage list decides.
    reading = clf.classify(text)
    assert reading.gate >= clf._gate_lexicon.ticket
    assert reading.decision == "triage", reading.evidence


def test_a_question_about_a_service_is_ticketed_only_for_ones_own_case(clf: Classifier) -> None:
    # 我妈的 … 怎么申请: someone's own case, the question is the request itself. A general
    # how-to question reaches the staff's private list, where 立案 opens it in one press.
    own = clf.classify("我妈的高龄补贴怎么申请？")
    assert (own.decision, own.category) == ("ticket", "services")
    general = clf.classify("低保怎么申请？")
    assert (general.decision, general.category) == ("triage", "services")


def test_evidence_against_before_a_contrast_is_conceded(clf: Classifier) -> None:
    reading = clf.classify("物业早就知道了，但是一个月了电梯按钮还是坏的")
    assert (reading.decision, reading.category) == ("ticket", "facilities")
    assert not any(w.startswith("-") for w in reading.evidence)


def test_a_question_is_no_negation(clf: Classifier) -> None:
    # 有没有靠谱的 asks: 靠谱 still says the message looks for a tradesman, and 没 alone (有没有,
    # 没事) is no problem said of the water (水 + 没 once made any such message a water complaint).
    reading = clf.classify("我家马桶堵了，有没有靠谱的师傅")
    assert reading.decision != "ticket", reading.evidence
    assert "-靠谱" in reading.evidence
    reading = clf.classify("听说有的楼停水了，我们这栋没事")
    assert "水+没" not in reading.evidence
    # 特别 holds 别 and 不少 holds 不: neither denies the praise after it.
    assert "-好看" in clf.classify("今晚广场舞的新队形特别好看").evidence
    assert "-好看" in clf.classify("不少人说新装的路灯好看").evidence


def test_a_context_word_alone_decides_no_category(clf: Classifier) -> None:
    reading = clf.classify("楼上邻居家门口")
    assert reading.decision == "ignore"


@pytest.mark.parametrize(
    "text",
    ["8号楼1202室门口堆满了杂物", "我的电话是13811012012，楼道杂物谁来清", "我家丢了一只猫"],
)
def test_room_and_phone_numbers_and_a_lost_cat_are_not_urgent(clf: Classifier, text: str) -> None:
    reading = clf.classify(text)
    assert reading.urgency == "normal" and reading.call_first == ""


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("着火了！3号楼楼道冒烟，快打119", "119"),
        ("楼下有人打架，有人流血了，快报警", "110"),
        ("电梯困人了，里面有个老人", "119"),
        ("老人在单元门口摔倒了，流血不止", "120"),
    ],
)
def test_danger_is_urgent_and_names_the_number_to_call(
    clf: Classifier, text: str, number: str
) -> None:
    reading = clf.classify(text)
    assert reading.urgency == "urgent"
    assert reading.call_first == number


def test_an_elder_fallen_is_for_120(clf: Classifier) -> None:
    assert clf.classify("有个老人在楼道摔伤了，快来人").call_first == "120"


def test_two_classifiers_with_different_words_do_not_affect_each_other() -> None:
    before = dict(jieba.dt.FREQ) if jieba.dt.initialized else None
    plain = Classifier.load()
    local = Classifier.load(
        {"keywords": {"facilities": ["升降梯仔:2"]}, "slang": {"部梯死咗": "电梯坏了"}}
    )
    text = "3栋部梯死咗"
    assert local.classify(text).category == "facilities"
    assert plain.classify(text).category != "facilities"
    assert plain.classify(text) == Classifier.load().classify(text)
    if before is not None:
        assert dict(jieba.dt.FREQ) == before  # jieba's global dictionary is never touched


def test_a_community_adds_places_and_its_own_notice_phrases() -> None:
    clf = Classifier.load({"places": ["榕树头"], "notices": ["本苑通告"]})
    assert clf.classify("榕树头的路灯坏了").location.place == "榕树头"
    assert clf.classify("本苑通告：下周二电梯保养").decision == "ignore"


@pytest.mark.parametrize(
    "overrides",
    [{"places": "榕树头"}, {"notices": [""]}, {"slang": {"梯": "电梯"}}, {"slang": {"a b": 3}}],
)
def test_local_words_are_validated(overrides: dict[str, object]) -> None:
    with pytest.raises(LexiconError):
        Classifier.load(overrides)


# ── the ninth pass: short messages, a thing with its problem, a negated fire ─────────────────────


def test_a_short_message_counts_as_such_with_the_fitted_weight() -> None:
    lexicon = replace(load_gate(), short_text=8, short_weight=0.75)
    short = Gate(lexicon).read("狗屎遍地")
    longer = Gate(lexicon).read("楼下草坪上狗屎遍地没人管")
    assert short.features.get("short") == 1.0
    assert "short" not in longer.features
    off = Gate(replace(lexicon, short_text=0)).read("狗屎遍地")
    assert "short" not in off.features
    assert short.score == pytest.approx(off.score + 0.75)


def test_a_thing_with_its_problem_is_a_problem_said_of_a_thing(clf: Classifier) -> None:
    # 楼道 + 充电 (a combo) says the problem though no word of the gate's problem group does.
    gate = clf.evidence("楼道在充电").gate
    assert "combo" in gate.features and "problem" not in gate.features
    assert gate.features.get("said") == 1.0
    # A topic alone says nothing of a problem.
    assert "said" not in clf.evidence("楼道的灯").gate.features


def test_a_fire_word_after_a_negation_is_no_fire(clf: Classifier) -> None:
    # 打唔着火 (the stove will not light): no fire, no 119, a gas problem.
    reading = clf.classify("煤气炉打唔着火 成座都系咁")
    assert reading.category != "fire_safety"
    assert (reading.urgency, reading.call_first) == ("normal", "")
    assert clf.classify("楼道着火了 快来人").call_first == "119"
