"""One markup (**bold**, [words](https://...), bare https://...) means the same on every channel."""

from __future__ import annotations

import pytest

from core.markup import Segment, parse, to_html, to_plain, to_telegram_html, to_whatsapp

FAQ = "משלוח רגיל עולה ₪29.90, ו**בהזמנות מעל ₪299 הוא בחינם**."
KB = "הנה מה שמצאתי: **מעקב משלוח**\nלמידע נוסף: https://shop.example.com/he/help/tracking"
LINK = "Fill in [the warranty form](https://shop.example.com/warranty) with your invoice."


def test_parse_finds_bold_links_and_bare_addresses():
    assert parse(FAQ) == [Segment("משלוח רגיל עולה ₪29.90, ו"), Segment("בהזמנות מעל ₪299 הוא בחינם", bold=True),
                          Segment(".")]
    assert parse(LINK)[1] == Segment("the warranty form", url="https://shop.example.com/warranty")
    assert parse(KB)[-1] == Segment("https://shop.example.com/he/help/tracking",
                                    url="https://shop.example.com/he/help/tracking")
    assert parse("**[Track it](https://t.example/1)**") == [Segment("Track it", bold=True, url="https://t.example/1")]


@pytest.mark.parametrize("text", [
    "call ‎*5550 today", "2 * 3 = 6", "** not bold **", "a**b", "★★★ טובה", "<b>hi</b>", "{agent}: hi",
])
def test_what_is_not_markup_stays_text(text: str):
    assert parse(text) == [Segment(text)]
    assert to_plain(text) == text == to_whatsapp(text)


def test_a_link_to_anything_but_http_is_never_a_link():
    for text in ("[click](javascript:alert(1))", "[click](javascript:alert)", "[x](data:text/html,hi)",
                 "[mail](mailto:a@b.c)"):
        assert all(s.url is None for s in parse(text)), text
        assert "href" not in to_html(text) and "href" not in to_telegram_html(text)
    assert to_html("[click](javascript:alert)") == "[click](javascript:alert)"


def test_plain_text_for_e_mail_text_parts():
    assert to_plain(FAQ) == "משלוח רגיל עולה ₪29.90, ובהזמנות מעל ₪299 הוא בחינם."
    assert to_plain(LINK) == "Fill in the warranty form (https://shop.example.com/warranty) with your invoice."
    assert to_plain(KB) == "הנה מה שמצאתי: מעקב משלוח\nלמידע נוסף: https://shop.example.com/he/help/tracking"


def test_whatsapp_has_its_own_bold_and_plain_links():
    assert to_whatsapp(FAQ) == "משלוח רגיל עולה ₪29.90, ו*בהזמנות מעל ₪299 הוא בחינם*."
    assert to_whatsapp(LINK) == to_plain(LINK)
    assert to_whatsapp("**Order 104233 **is late") == "**Order 104233 **is late"  # a space inside: not markup


def test_telegram_html_escapes_first():
    assert to_telegram_html(FAQ) == "משלוח רגיל עולה ₪29.90, ו<b>בהזמנות מעל ₪299 הוא בחינם</b>."
    assert to_telegram_html(LINK) == 'Fill in <a href="https://shop.example.com/warranty">the warranty form</a> ' \
                                     "with your invoice."
    assert to_telegram_html('<script>alert("x")</script> & **<i>y</i>**') == \
        '&lt;script&gt;alert("x")&lt;/script&gt; &amp; <b>&lt;i&gt;y&lt;/i&gt;</b>'


def test_html_for_e_mail_parts_opens_links_in_a_new_tab():
    assert to_html(LINK) == ('Fill in <a href="https://shop.example.com/warranty" rel="noopener noreferrer" '
                             'target="_blank">the warranty form</a> with your invoice.')
    assert to_html("**<img src=x onerror=alert(1)>**") == "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>"
    assert to_html('https://x.example/?a=1&b="2"') == (
        '<a href="https://x.example/?a=1&amp;b=" rel="noopener noreferrer" target="_blank">'
        'https://x.example/?a=1&amp;b=</a>"2"')
