"""Masking personal data before a resident's words are shown to anyone but the people handling it.

Matching runs on a normalised copy of the text, so the ways people really type a number are
caught: full-width digits and letters from Chinese input methods (１３８１２３４５６７８),
zero-width characters, separators inside a digit run (138.1234.5678, 138—1234—5678,
110101 19900307 1234) and phone numbers in Chinese numerals (一三八一二三四五六七八). The mask is
then written over the matching span of the original text; everything else is left as typed.

What is masked, and how much is kept (enough for the writer to recognise their own text):
- e-mail addresses: first character of the local part, `w***@example.com`;
- 18-digit ID numbers (also 15-digit old ones) and bank card numbers (15–19 digits, also in
  groups of four): first 3 and last 2 digits kept;
- mainland mobile numbers, with or without +86: `138****5678`;
- landlines with an area code (`010-****5678`, `0755-***4567`), and bare 7–8 digit numbers
  right after a word like 电话/座机/联系;
- licence plates of every province, including new-energy plates (six characters after the
  letter): province, letter and last character kept, `京A·****5`, `粤B·*****5`;
- WeChat and QQ ids when labelled (微信/vx/QQ …): first and last character kept.
Room numbers (301), dates, times, ticket numbers (#128), amounts and building numbers are not
touched: every pattern needs a shape those never have.

`mask_pii` is for what neighbours read (group replies, posts). `mask_for_staff` is for the
worker's card: the worker calls the resident back, so phone numbers stay, but ID and bank card
numbers are masked there too — nobody handling a complaint needs them.

Names (`mask_name`, the one rule for every name shown to neighbours): a Chinese name keeps its
surname (two characters for the common compound surnames 欧阳, 司马 …) and every other
character becomes `*`: 王芳 -> 王*, 欧阳娜娜 -> 欧阳**. A latin name keeps the first letter of each
word: John Smith -> J*** S****.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使"

# Characters that never show and are dropped before matching.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff\u00ad")
# Separators people put inside a number; removed between two digits before matching.
_SEPARATORS = frozenset(" \u00a0\u3000.-_·•—–―‐‑‒－/\\")
_CHINESE_DIGITS = {
    "〇": "0",
    "零": "0",
    "洞": "0",
    "一": "1",
    "幺": "1",
    "么": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
# A run this long of digits written as Chinese numerals is a number, not words (三号楼, 一二楼).
_CHINESE_RUN = 7

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_ID_NUMBER = re.compile(
    r"(?<![\d#A-Za-z])([1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"|[1-9]\d{14})(?![\dA-Za-z])"
)
_LONG_DIGITS = re.compile(r"(?<![\d#])(\d{14,18}[\dXx]|\d{15,19})(?![\dA-Za-z])")
_MOBILE = re.compile(r"(?<![\d#])((?:\+|＋)?86[-\s]?)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<![\d#])([(（]?0\d{2,3}[)）]?)[-\s]?(\d{3,4})(\d{4})(?!\d)")
_CONTEXT_NUMBER = re.compile(
    r"((?:电话|座机|联系|致电|拨打|tel|Tel|TEL)[^\d\n]{0,4})(\d{3,4})(\d{4})(?![\d])"
)
_PLATE = re.compile(
    rf"([{_PROVINCES}])([A-Za-z])[·•.\s-]?([A-Za-z0-9]{{4,5}})([A-Za-z0-9])(?![A-Za-z0-9])"
)
_CHAT_ID = re.compile(
    r"((?:微信号?|威信|薇信|vx|VX|Vx|wx|WX|Wx|weixin|WeChat|wechat|V信|v信|QQ号?|qq号?|扣扣)"
    r"\s*(?:号码|号|id|ID)?\s*[:：是为]?\s*)([A-Za-z][-_A-Za-z0-9]{4,19}|\d{5,12})(?![-_A-Za-z0-9])"
)


@dataclass(frozen=True, slots=True)
class _Normalised:
    """The text used for matching, and for each of its characters the index it came from."""

    text: str
    origin: tuple[int, ...]


def _half_width(ch: str) -> str:
    # Only digits, letters and the plus sign: full-width punctuation stays as typed.
    code = ord(ch)
    if 0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A:
        return chr(code - 0xFEE0)
    return "+" if ch == "＋" else ch


def _chinese_runs(text: str) -> set[int]:
    """Indexes of Chinese numerals that belong to a long run of digits (a number, not words)."""
    marked: set[int] = set()
    run: list[int] = []
    chinese = 0

    def close() -> None:
        nonlocal chinese
        if len(run) >= _CHINESE_RUN and chinese >= 3:
            marked.update(i for i in run if text[i] in _CHINESE_DIGITS)
        run.clear()
        chinese = 0

    for i, ch in enumerate(text):
        half = _half_width(ch)
        if ch in _CHINESE_DIGITS:
            run.append(i)
            chinese += 1
        elif half.isdigit() and half.isascii():
            run.append(i)
        elif ch in _INVISIBLE or (run and ch in _SEPARATORS):
            continue
        else:
            close()
    close()
    return marked


def normalise(text: str) -> _Normalised:
    """Map full-width to half-width, drop invisible characters and separators inside numbers."""
    chinese = _chinese_runs(text)
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ch in _INVISIBLE:
            continue
        chars.append(_CHINESE_DIGITS[ch] if i in chinese else _half_width(ch))
        origin.append(i)
    # Separators between two digits join the number: 138-1234-5678, 110101 19900307 1234.
    dropped = _separators_inside_numbers(chars)
    return _Normalised(
        "".join(ch for i, ch in enumerate(chars) if i not in dropped),
        tuple(o for i, o in enumerate(origin) if i not in dropped),
    )


def _separators_inside_numbers(chars: list[str]) -> set[int]:
    """Indexes of separators that sit inside a phone, ID or card number.

    Such numbers are written in groups of three or more (138 1234 5678, 6222 0212 3456 7890 123,
    110101 19900307 1234) or digit by digit (1 3 8 1 2 …), perhaps ending in a short group after a
    long run. Dates (2026-11-23), times and amounts (2.5) have short groups and stay apart, and
    so does +86 before a number.
    """
    dropped: set[int] = set()
    n = len(chars)
    i = 0
    while i < n:
        if not chars[i].isdigit():
            i += 1
            continue
        groups: list[int] = []  # digit counts
        gaps: list[range] = []  # separator positions between groups
        k = i
        while True:
            start = k
            while k < n and chars[k].isdigit():
                k += 1
            groups.append(k - start)
            gap = k
            while gap < n and chars[gap] in _SEPARATORS and gap - k < 3:
                gap += 1
            if gap == k or gap >= n or not chars[gap].isdigit():
                break
            gaps.append(range(k, gap))
            k = gap
        first = i
        i = k
        if len(groups) == 1:
            continue
        one_by_one = max(groups) <= 2 and sum(groups) >= 7
        joined = groups[0]
        # An area code (010-, 0755 ) stays apart: the landline pattern reads it as one.
        area = chars[first] == "0" and groups[0] in (3, 4)
        for index, gap_range in enumerate(gaps):
            left, right = groups[index], groups[index + 1]
            if index == 0 and area:
                joined = right
                continue
            if one_by_one or (left >= 3 and right >= 3) or (joined >= 12 and left >= 3):
                dropped.update(gap_range)
                joined += right
            else:
                joined = right
    return dropped


Span = tuple[int, int, str]


def _spans(
    pattern: re.Pattern[str], text: str, render: Callable[[re.Match[str]], str | None]
) -> Iterable[Span]:
    for m in pattern.finditer(text):
        out = render(m)
        if out is not None and out != m.group(0):
            yield m.start(), m.end(), out


def _mask_email(m: re.Match[str]) -> str:
    return f"{m.group(1)[0]}***@{m.group(2)}"


def _mask_long(m: re.Match[str]) -> str:
    digits = m.group(1)
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def _mask_mobile(m: re.Match[str]) -> str:
    prefix = m.group(1) or ""
    return f"{prefix}{m.group(2)}****{m.group(4)}"


def _mask_landline(m: re.Match[str]) -> str | None:
    area, head, tail = m.group(1), m.group(2), m.group(3)
    if not _balanced(area):
        return None
    sep = "" if area.endswith((")", "）")) else "-"
    return f"{area}{sep}{'*' * len(head)}{tail}"


def _balanced(area: str) -> bool:
    opened = area[0] in "(（"
    closed = area[-1] in ")）"
    return opened == closed


def _mask_context(m: re.Match[str]) -> str:
    return f"{m.group(1)}{'*' * len(m.group(2))}{m.group(3)}"


def _mask_plate(m: re.Match[str]) -> str | None:
    body = m.group(3)
    if not any(ch.isdigit() for ch in body + m.group(4)):
        return None  # 京A and four letters: a word, not a plate
    return f"{m.group(1)}{m.group(2).upper()}·{'*' * len(body)}{m.group(4).upper()}"


def _mask_chat_id(m: re.Match[str]) -> str:
    ident = m.group(2)
    return f"{m.group(1)}{ident[0]}{'*' * max(1, len(ident) - 2)}{ident[-1]}"


_NEIGHBOURS = (
    (_EMAIL, _mask_email),
    (_ID_NUMBER, _mask_long),
    (_LONG_DIGITS, _mask_long),
    (_MOBILE, _mask_mobile),
    (_LANDLINE, _mask_landline),
    (_CONTEXT_NUMBER, _mask_context),
    (_PLATE, _mask_plate),
    (_CHAT_ID, _mask_chat_id),
)
_STAFF = (
    (_ID_NUMBER, _mask_long),
    (_LONG_DIGITS, _mask_long),
)


def _apply(
    text: str, rules: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]], ...]
) -> str:
    norm = normalise(text)
    taken: list[Span] = []
    for pattern, render in rules:
        for start, end, out in _spans(pattern, norm.text, render):
            if any(start < e and s < end for s, e, _ in taken):
                continue  # an earlier (stronger) rule masked this part already
            taken.append((start, end, out))
    if not taken:
        return text
    pieces: list[str] = []
    cursor = 0
    for start, end, out in sorted(taken):
        first, last = norm.origin[start], norm.origin[end - 1] + 1
        pieces.append(text[cursor:first])
        pieces.append(out)
        cursor = last
    pieces.append(text[cursor:])
    return "".join(pieces)


def mask_pii(text: str) -> str:
    """Mask phone, ID and card numbers, plates, e-mail and chat ids in a resident's text."""
    return _apply(text, _NEIGHBOURS)


def mask_for_staff(text: str) -> str:
    """Mask what a worker never needs (ID and bank card numbers); phones stay for the call back."""
    return _apply(text, _STAFF)


_COMPOUND_SURNAMES = frozenset(
    {
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "令狐",
        "端木",
        "西门",
        "南宫",
        "独孤",
        "呼延",
        "轩辕",
        "澹台",
        "太史",
        "申屠",
        "钟离",
        "闻人",
        "赫连",
        "濮阳",
        "万俟",
        "左丘",
        "东郭",
        "百里",
        "拓跋",
        "第五",
    }
)


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def mask_name(name: str) -> str:
    """Keep a name's surname (or each latin word's first letter) and star the rest."""
    name = "".join(ch for ch in name if ch not in _INVISIBLE).strip()
    if not name:
        return ""
    if _is_cjk(name[0]):
        keep = 2 if name[:2] in _COMPOUND_SURNAMES and len(name) > 2 else 1
        return name[:keep] + "*" * max(1, len(name) - keep)
    words = name.split()
    return " ".join(w[0] + "*" * max(1, len(w) - 1) for w in words)
