"""Masking personal data before a resident's words are echoed to a group of neighbours.

What is masked, and how much is kept (enough for the writer to recognise their own text):
- e-mail addresses: first character of the local part, `w***@example.com`;
- ID card numbers and other runs of 15–19 digits (bank cards): first 3 and last 2 kept;
- mainland mobile numbers, with or without +86 and separators: `138****5678`;
- landlines with an area code (`010-****5678`, `0755-****567`), and bare 7–8 digit numbers
  right after a word like 电话/座机/联系;
- licence plates: province, letter and last character kept, `京A·****5`.
Room numbers (301), dates, times, ticket numbers (#128), amounts and building numbers are not
touched: every pattern needs a shape those never have.

Names (`mask_name`): a Chinese name keeps its surname (two characters for the common compound
surnames 欧阳, 司马 …) and every other character becomes `*`: 王芳 -> 王*, 欧阳娜娜 -> 欧阳**.
A latin name keeps the first letter of each word: John Smith -> J*** S****.
"""

from __future__ import annotations

import re

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_LONG_DIGITS = re.compile(r"(?<![\d#])(\d{14,18}[\dXx]|\d{15,19})(?![\dA-Za-z])")
_MOBILE = re.compile(r"(?<![\d#])((?:\+|＋)?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<![\d#])([(（]?0\d{2,3}[)）]?)[-\s]?(\d{3,4})(\d{4})(?!\d)")
_CONTEXT_NUMBER = re.compile(
    r"((?:电话|座机|联系|致电|拨打|tel|Tel|TEL)[^\d\n]{0,4})(\d{3,4})(\d{4})(?![\d])"
)
_PLATE = re.compile(
    rf"([{_PROVINCES}])([A-Za-z])[·•.\s-]?([A-Za-z0-9]{{4,5}})([A-Za-z0-9])(?![A-Za-z0-9])"
)

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


def _mask_email(m: re.Match[str]) -> str:
    return f"{m.group(1)[0]}***@{m.group(2)}"


def _mask_long(m: re.Match[str]) -> str:
    digits = m.group(1)
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def _mask_mobile(m: re.Match[str]) -> str:
    prefix = m.group(1) or ""
    return f"{prefix}{m.group(2)}****{m.group(4)}"


def _mask_landline(m: re.Match[str]) -> str:
    area, head, tail = m.group(1), m.group(2), m.group(3)
    if not _balanced(area):
        return m.group(0)
    sep = "" if area.endswith((")", "）")) else "-"
    return f"{area}{sep}{'*' * len(head)}{tail}"


def _balanced(area: str) -> bool:
    opened = area[0] in "(（"
    closed = area[-1] in ")）"
    return opened == closed


def _mask_context(m: re.Match[str]) -> str:
    return f"{m.group(1)}{'*' * len(m.group(2))}{m.group(3)}"


def _mask_plate(m: re.Match[str]) -> str:
    body = m.group(3)
    if not any(ch.isdigit() for ch in body + m.group(4)):
        return m.group(0)  # 京A and four letters: a word, not a plate
    return f"{m.group(1)}{m.group(2).upper()}·{'*' * len(body)}{m.group(4).upper()}"


def mask_pii(text: str) -> str:
    """Mask phone numbers, ID numbers, plates and e-mail addresses in a resident's text."""
    text = _EMAIL.sub(_mask_email, text)
    text = _LONG_DIGITS.sub(_mask_long, text)
    text = _MOBILE.sub(_mask_mobile, text)
    text = _LANDLINE.sub(_mask_landline, text)
    text = _CONTEXT_NUMBER.sub(_mask_context, text)
    return _PLATE.sub(_mask_plate, text)


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def mask_name(name: str) -> str:
    """Keep a name's surname (or each latin word's first letter) and star the rest."""
    name = name.strip()
    if not name:
        return ""
    if _is_cjk(name[0]):
        keep = 2 if name[:2] in _COMPOUND_SURNAMES and len(name) > 2 else 1
        return name[:keep] + "*" * max(1, len(name) - keep)
    words = name.split()
    return " ".join(w[0] + "*" * max(1, len(w) - 1) for w in words)
