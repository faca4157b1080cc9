"""Masking holds for the ways people really type numbers: generated with hypothesis."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.privacy import mask_for_staff, mask_name, mask_pii, normalise

FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
CHINESE = dict(zip("0123456789", "零一二三四五六七八九", strict=True))
SEPARATORS = [" ", "-", ".", "—", "－", "·", " - ", "\u3000"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Words around a number; none ends or starts with a digit or a latin letter.
BEFORE = ["", "我电话", "联系我：", "车主是", "身份证号", "卡号", "请打", "麻烦回电 ", "（", "，"]
AFTER = ["", "，谢谢", " 找我", "。", "）", "！快来人", "号码别外传"]

digit = st.sampled_from("0123456789")


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


mobiles = st.builds(
    lambda second, rest: "1" + second + rest, st.sampled_from("3456789"), digits(9)
)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(["110101", "310104", "440305", "510107", "650102"]))
    year = draw(st.integers(1930, 2020))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    serial = draw(digits(3))
    check = draw(st.sampled_from("0123456789X"))
    return f"{region}{year}{month:02d}{day:02d}{serial}{check}"


bank_cards = st.builds(lambda head, rest: "62" + head + rest, digits(2), digits(15))


@st.composite
def typed(draw: st.DrawFn, number: str, groups: tuple[int, ...]) -> str:
    """Write a number the way a resident might: widths, separators, invisible characters."""
    style = draw(st.sampled_from(["plain", "grouped", "one_by_one"]))
    if style == "grouped":
        sep = draw(st.sampled_from(SEPARATORS))
        parts, at = [], 0
        for size in groups:
            parts.append(number[at : at + size])
            at += size
        if at < len(number):
            parts.append(number[at:])
        text = sep.join(parts)
    elif style == "one_by_one":
        text = draw(st.sampled_from([" ", "-", "."])).join(number)
    else:
        text = number
    out: list[str] = []
    full = draw(st.booleans())
    for ch in text:
        if ch.isdigit() and full and draw(st.booleans()):
            ch = FULL_WIDTH[ch]
        out.append(ch)
        if ch.strip() and draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from(ZERO_WIDTH)))
    return "".join(out)


def leaked(masked: str, number: str) -> bool:
    """Whether the number can still be read, however it was written."""
    seen = "".join(ch for ch in normalise(masked).text if ch.isdigit() or ch in "Xx")
    return number.upper() in seen.upper()


@settings(max_examples=300, deadline=None)
@given(st.data(), mobiles, st.sampled_from(BEFORE), st.sampled_from(AFTER))
def test_a_mobile_number_never_survives(
    data: st.DataObject, number: str, before: str, after: str
) -> None:
    written = data.draw(typed(number, (3, 4, 4)))
    masked = mask_pii(before + written + after)
    assert not leaked(masked, number), masked
    assert masked.startswith(before.rstrip()) and masked.endswith(after.lstrip())


@settings(max_examples=200, deadline=None)
@given(mobiles, st.sampled_from(BEFORE), st.sampled_from(AFTER))
def test_a_mobile_number_in_chinese_numerals_never_survives(
    number: str, before: str, after: str
) -> None:
    written = "".join(CHINESE[d] for d in number)
    assert not leaked(mask_pii(before + written + after), number)


@settings(max_examples=300, deadline=None)
@given(st.data(), id_numbers(), st.sampled_from(BEFORE), st.sampled_from(AFTER))
def test_an_id_number_never_survives_even_on_the_workers_card(
    data: st.DataObject, number: str, before: str, after: str
) -> None:
    written = data.draw(typed(number, (6, 8, 4)))
    for mask in (mask_pii, mask_for_staff):
        masked = mask(before + written + after)
        assert not leaked(masked, number), masked
        assert number[6:14] not in normalise(masked).text  # the birth date


@settings(max_examples=200, deadline=None)
@given(st.data(), bank_cards, st.sampled_from(BEFORE), st.sampled_from(AFTER))
def test_a_bank_card_never_survives(
    data: st.DataObject, number: str, before: str, after: str
) -> None:
    written = data.draw(typed(number, (4, 4, 4, 4)))
    assert not leaked(mask_pii(before + written + after), number)


@st.composite
def plates(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(PROVINCES))
    letter = draw(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXY"))
    alnum = st.sampled_from("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
    if draw(st.booleans()):  # new-energy: D or F and five digits
        body = draw(st.sampled_from("DF")) + draw(digits(5))
    else:
        body = draw(digit) + "".join(draw(alnum) for _ in range(4))
    return province + letter + draw(st.sampled_from(["", "·", " ", "-"])) + body


@settings(max_examples=300, deadline=None)
@given(plates(), st.sampled_from(["", "门口", "车牌"]), st.sampled_from(["", "挡住消防通道"]))
def test_a_plate_of_any_province_never_survives(plate: str, before: str, after: str) -> None:
    body = plate[-5:-1]
    masked = mask_pii(before + plate + after)
    assert body not in masked and "****" in masked


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["微信", "微信号：", "vx ", "QQ", "qq号:", "扣扣 "]),
    st.text(alphabet="abcdefghijk_0123456789", min_size=6, max_size=12).map(lambda s: "w" + s),
)
def test_a_labelled_chat_id_never_survives(label: str, ident: str) -> None:
    masked = mask_pii(f"加我{label}{ident}聊")
    assert ident not in masked and masked.startswith("加我")


ORDINARY = [
    "3号楼301室漏水",
    "2026-11-23 早上",
    "12:30 到 14:00",
    "物业费每平米2.5元，一年1380元",
    "8号楼1202室门口堆满了杂物",
    "3-2-301",
    "1单元 2-301 的水管",
    "第3次了",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ORDINARY), min_size=1, max_size=4), st.sampled_from(["", "，"]))
def test_ordinary_numbers_stay_as_typed(parts: list[str], joiner: str) -> None:
    text = joiner.join(parts)
    assert mask_pii(text) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="王李张刘陈杨黄赵欧阳司马芳娜伟强明", min_size=1, max_size=5))
def test_a_name_keeps_only_its_surname(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == max(2, len(name))
    assert masked.rstrip("*") == name[: len(masked.rstrip("*"))]
    assert len(masked.rstrip("*")) <= 2
