"""Masking: what a group of neighbours must not read, and what must stay readable."""

from __future__ import annotations

import pytest

from bot.services.privacy import mask_name, mask_pii

pytestmark = pytest.mark.both_stores


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我电话13812345678", "我电话138****5678"),
        ("联系13812345678。", "联系138****5678。"),
        ("+86 13812345678", "+86 138****5678"),
        ("8613912345678", "86139****5678"),
        ("手机 138-1234-5678 找我", "手机 138****5678 找我"),
        ("138 1234 5678", "138****5678"),
        ("打19912345678或13712345678", "打199****5678或137****5678"),
        ("座机010-87654321", "座机010-****4321"),
        ("0755-1234567有人吗", "0755-***4567有人吗"),
        ("(0755)1234567", "(0755)***4567"),
        ("（010）87654321", "（010）****4321"),
        ("物业电话 87654321", "物业电话 ****4321"),
        ("电话：6543210", "电话：***3210"),
        ("身份证110101199003071234", "身份证110*************34"),
        ("11010119900307123X号", "110*************3X号"),
        ("身份证号11010119900307123x", "身份证号110*************3x"),
        ("银行卡6222021234567890123", "银行卡622**************23"),
        ("京A12345挡住消防通道", "京A·****5挡住消防通道"),
        ("粤B·D12345又停这里", "粤B·*****5又停这里"),
        ("沪C 8K2J1 僵尸车", "沪C·****1 僵尸车"),
        ("车牌苏e88888", "车牌苏E·****8"),
        ("邮箱wang.fang@example.com", "邮箱w***@example.com"),
        ("发到13812345678@qq.com", "发到1***@qq.com"),
        ("Email: a_b+c@mail.sub.example.cn!", "Email: a***@mail.sub.example.cn!"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "3号楼301室漏水",
        "1单元301",
        "2单元1102的空调外机",
        "B区7号楼电梯坏了",
        "12栋楼下",
        "工单#128怎么样了",
        "#12812345678 不是电话",
        "2026-11-23 早上",
        "2026年11月23日",
        "20261123",
        "12:30 到 14:00",
        "物业费每平米2.5元，一年1380元",
        "100元",
        "楼下有3辆车",
        "已经等了48小时",
        "温度18度",
        "电话费太贵了",
        "京东快递放门口",
        "京A栋",
        "新A区",
        "云ABCDE",
        "rm -rf",
        "@所有人 明天停水",
        "",
    ],
)
def test_ordinary_numbers_and_words_are_left_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_a_whole_complaint_keeps_its_sense() -> None:
    text = "5号楼门口京A12345占消防通道三天了，车主电话13812345678，谁管管？#12"
    assert mask_pii(text) == "5号楼门口京A·****5占消防通道三天了，车主电话138****5678，谁管管？#12"


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_pii("13812345678 京A12345 110101199003071234 a@b.cn 010-87654321")
    assert mask_pii(once) == once


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("王芳", "王*"),
        ("王小明", "王**"),
        ("欧阳娜娜", "欧阳**"),
        ("司马光", "司马*"),
        ("欧阳", "欧*"),  # two characters: a surname and a given name, not a compound surname
        ("王", "王*"),
        ("张阿姨", "张**"),
        ("John Smith", "J*** S****"),
        ("li", "l*"),
        ("A", "A*"),
        ("  王芳  ", "王*"),
        ("", ""),
    ],
)
def test_names_keep_only_the_surname_or_initials(name: str, masked: str) -> None:
    assert mask_name(name) == masked
