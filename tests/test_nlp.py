"""The classifier as residents and workers meet it: categories, urgency, places, bad input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.nlp import Classifier, LexiconError, Location, Reading
from bot.nlp.lexicon import DEFAULT_FILE, load_default, parse_taxonomy

CODES = [
    "utilities",
    "drainage",
    "sanitation",
    "noise",
    "parking",
    "fire_safety",
    "security",
    "facilities",
    "greenery",
    "property",
    "pets",
    "construction",
    "neighbor",
    "services",
    "other",
]


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.load()


def test_the_lift_with_someone_trapped_is_an_urgent_facilities_ticket(clf: Classifier) -> None:
    r = clf.classify("4号楼电梯又坏了，关人了！快来人")
    assert isinstance(r, Reading)
    assert r.category == "facilities"
    assert r.urgency == "urgent"
    assert r.decision == "ticket"
    assert r.location.building == "4"
    assert "电梯" in "".join(r.keywords)
    assert r.candidates[0][0] == "facilities"
    assert 0.0 <= r.confidence <= 1.0
    data = r.to_dict()
    assert data["location"] == {"building": "4", "unit": None, "room": None, "place": None}
    assert data["category"] == "facilities"


def test_default_taxonomy_has_exactly_the_evaluation_codes(clf: Classifier) -> None:
    assert sorted(clf.categories) == sorted(CODES)
    assert clf.category_name("pets") == "文明养宠"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("谢谢师傅把路灯修好了", "none"),
        ("通知：明天上午停水检修", "none"),
        ("有没有要团购大米的？接龙", "none"),
        ("捡到一串钥匙，放门卫室了", "none"),
        ("【投票】增设充电桩，同意请回复1", "none"),
        ("大家早上好☀️", "none"),
        ("小区门口那家店缺斤短两，能不能管管", "other"),
        ("楼下广场舞天天放到十点", "noise"),
        ("楼道里有人给电动车充电", "fire_safety"),
        ("化粪池满了，到处是粪水", "drainage"),
        ("僵尸车停了一年没人管", "parking"),
        ("想问一下低保怎么申请", "services"),
    ],
)
def test_typical_messages(clf: Classifier, text: str, category: str) -> None:
    assert clf.classify(text).category == category


def test_traditional_characters_read_like_simplified(clf: Classifier) -> None:
    a, b = clf.classify("電梯壞了"), clf.classify("电梯坏了")
    assert a.category == b.category == "facilities"
    assert a.keywords == b.keywords


def test_compound_tokens_keep_their_parts(clf: Classifier) -> None:
    tokens = clf.tokens(clf.normalise("楼道里电动车充电太危险"))
    assert "电动车充电" in tokens  # a domain word of the base cut


def test_a_negated_problem_word_does_not_count(clf: Classifier) -> None:
    assert clf.classify("电梯没坏，是整栋楼停电了").category == "utilities"
    assert clf.classify("家里没有漏水，不用担心").category == "none"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B区7号楼跳闸了", Location(building="B7")),
        ("七号楼停水了", Location(building="7")),
        ("12幢楼道一股煤气味", Location(building="12")),
        ("3栋2单元电梯卡在7楼", Location(building="3", unit="2")),
        ("1单元301家里停电了", Location(unit="1", room="301")),
        ("东门那里积水好深", Location(place="东门")),
        ("地库B2的排水沟堵了", Location(place="地库B2")),
        ("5-2-302 楼上漏水", Location(building="5", unit="2", room="302")),
    ],
)
def test_location_is_normalised(clf: Classifier, text: str, expected: Location) -> None:
    assert clf.classify(text).location == expected


@pytest.mark.parametrize(
    "text",
    [
        "燃气表一直响，一股煤气味",
        "楼下有人打架，都见血了",
        "高空抛物！差点砸到孩子",
        "着火了！2栋冒烟了",
        "东门路口供水管爆了",
    ],
)
def test_dangerous_situations_are_urgent(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.category != "none"
    assert r.urgency == "urgent"


def test_ordinary_complaints_are_normal_urgency(clf: Classifier) -> None:
    assert clf.classify("草坪好久没修剪了，杂草很高").urgency == "normal"


@pytest.mark.parametrize(
    "text", ["", "   ", "\x00\x01\x1b[31m", "😂😂😂🙏", "？？？", "1", "\u200b\u200b"]
)
def test_empty_and_junk_input_is_not_a_complaint(clf: Classifier, text: str) -> None:
    r = clf.classify(text)
    assert r.category == "none"
    assert r.decision == "ignore"


def test_a_huge_paste_is_read_quickly(clf: Classifier) -> None:
    text = "电梯坏了，" + "那个就是然后" * 2000
    r = clf.classify(text)
    assert r.category == "facilities"


def test_non_string_input_does_not_raise(clf: Classifier) -> None:
    assert clf.classify(None).category == "none"  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_any_text_gives_a_valid_reading(text: str) -> None:
    clf = Classifier.load()
    r = clf.classify(text)
    assert r.category in (*clf.categories, "none")
    assert 0.0 <= r.confidence <= 1.0
    assert r.urgency in ("urgent", "normal")
    assert r.decision in ("ticket", "triage", "ignore")
    assert (r.decision == "ignore") == (r.category == "none")
    assert all(isinstance(k, str) for k in r.keywords)
    # Generous bound: the point is "no pathological blow-up", not a timing assertion.


# ── lexicon data and community overrides ──────────────────────────────────────────────────────


def test_community_can_add_keywords_rename_and_add_categories() -> None:
    overrides = {
        "keywords": {"parking": ["泊位被占:3"]},
        "rename": {"property": "物业管理"},
        "categories": {
            "elevator_ads": {"name": "电梯广告", "urgency": "normal", "keywords": ["电梯广告:3"]}
        },
    }
    clf = Classifier.load(overrides)
    assert clf.category_name("property") == "物业管理"
    assert "elevator_ads" in clf.categories
    assert clf.classify("电梯广告太吵了，一直循环放").category == "elevator_ads"
    assert clf.classify("又是泊位被占").category == "parking"


def test_community_can_disable_a_category() -> None:
    clf = Classifier.load({"disable": ["services"]})
    assert "services" not in clf.categories
    assert clf.classify("想问一下低保怎么申请").category != "services"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"keywords": {"potholes": ["坑"]}}, "classifier.keywords.potholes"),
        ({"keywords": {"parking": []}}, "classifier.keywords.parking"),
        ({"keywords": {"parking": ["泊车:很重"]}}, "classifier.keywords.parking"),
        ({"keywords": {"parking": ["泊车:-1"]}}, "classifier.keywords.parking"),
        ({"rename": {"nope": "名字"}}, "classifier.rename.nope"),
        ({"categories": {"x1": {"name": "新", "keywords": []}}}, "classifier.categories.x1"),
        ({"colour": "red"}, "classifier.colour"),
    ],
)
def test_bad_community_config_names_the_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(LexiconError) as info:
        Classifier.load(overrides)
    assert "community config [classifier]" in str(info.value)
    assert key in str(info.value)


def _raw_default() -> dict[str, object]:
    import tomllib
    from importlib import resources

    text = (resources.files("bot.nlp") / "data" / "taxonomy.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["categories"]["pets"].update(keywords=[]), "categories.pets.keywords"),
        (lambda d: d["categories"]["pets"]["keywords"].append("狗:x"), "categories.pets.keywords"),
        (
            lambda d: d["categories"].update({"Bad-Code": {"name": "x", "keywords": ["a"]}}),
            "categories.Bad-Code",
        ),
        (lambda d: d["categories"]["pets"].update(urgency="soon"), "categories.pets.urgency"),
        (lambda d: d["categories"]["services"].update(asks="yes"), "categories.services.asks"),
        (lambda d: d["cues"].update(context=[]), "cues.context"),
        (lambda d: d["cues"].update(negations=["没", ""]), "cues.negations"),
        (lambda d: d["cues"]["slips"].update({"怀了": 3}), "cues.slips.怀了"),
        (lambda d: d["cues"].update(slips=["怀了"]), "cues.slips"),
    ],
)
def test_bad_taxonomy_file_names_the_file_and_key(mutate: object, key: str) -> None:
    data = _raw_default()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(LexiconError) as info:
        parse_taxonomy(data, DEFAULT_FILE)
    assert DEFAULT_FILE in str(info.value)
    assert key in str(info.value)


def test_packaged_taxonomy_is_valid() -> None:
    taxonomy = load_default()
    assert all(c.keywords for c in taxonomy.categories)
