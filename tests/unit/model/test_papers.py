"""The paper index's identifiers and search terms."""

from __future__ import annotations

import pytest

from newsletter.model.papers import QueryPart, paper_key, query_parts, terms


@pytest.mark.parametrize(("text", "key"), [
    ("2209.01947", "2209.01947"),
    ("2209.01947v3", "2209.01947"),
    ("arXiv:2209.01947v2", "2209.01947"),
    ("https://arxiv.org/abs/2209.01947v2", "2209.01947"),
    ("http://export.arxiv.org/pdf/2209.01947v1.pdf", "2209.01947"),
    ("arxiv.org/html/2209.01947v1/", "2209.01947"),
    ("https://arxiv.org/abs/2209.01947?context=cs#x", "2209.01947"),
    ("  1501.00001  ", "1501.00001"),
    ("hep-th/9901001", "hep-th/9901001"),
    ("hep-th/9901001v2", "hep-th/9901001"),
    ("https://arxiv.org/abs/math.AG/0601001v1", "math/0601001"),
    ("HEP-TH/9901001", "hep-th/9901001"),
])
def test_every_spelling_of_an_identifier_gives_one_key(text: str, key: str) -> None:
    """Versions, links (abs, pdf, html), prefixes and subject classes make one key."""
    assert paper_key(text) == key


@pytest.mark.parametrize("text", ["", "sparse models", "2209.019", "2209.01947 and more",
                                  "https://example.org/abs/2209.01947", "hep-th/990100",
                                  "../../etc/passwd", "2209.01947" + "x" * 5000])
def test_anything_else_is_no_identifier(text: str) -> None:
    """Text that is not one identifier or arXiv link names no paper."""
    assert paper_key(text) is None


def test_terms_cut_words_and_chinese_bigrams() -> None:
    """Latin words are folded (case, full width); Chinese runs become bigrams; a lone
    Chinese character stays one term."""
    assert terms("深度学习 for ＧＲＡＰＨＳ, GPT模型 稀 x_y") == [
        "深度", "度学", "学习", "for", "graphs", "gpt", "模型", "稀", "x", "y"]


def test_query_parts_drop_syntax() -> None:
    """Operators and quotes are punctuation: what is left are words and Chinese runs,
    each at most once; a single Chinese character matches as a prefix."""
    assert query_parts('"sparse" AND (稀疏专家) OR 稀 sparse*') == [
        QueryPart(("sparse",)), QueryPart(("and",)), QueryPart(("稀疏", "疏专", "专家")),
        QueryPart(("or",)), QueryPart(("稀",), prefix=True)]
    assert query_parts('"*()^:') == []
