"""The PostgreSQL vector literal of a paper's search terms (issue 20): the literal joined
from ready-made position strings equals one formatted term by term."""

from __future__ import annotations

from newsletter.model.papers import terms
from newsletter.store.paper_rows import tsvector_text


def _formatted(fields: list[list[str]]) -> str:
    """The literal written the plain way: ``'term':position`` and weight, in order,
    positions capped at PostgreSQL's 16,383."""
    pieces, position = [], 0
    for weight, found in zip("ABC", fields, strict=False):
        for term in found:
            if position >= 16383:
                break
            position += 1
            pieces.append(f"'{term}':{position}{weight}")
    return " ".join(pieces)


def test_literal_has_every_term_with_its_position_and_weight() -> None:
    fields = [terms("深度学习 for Graphs"), terms("Ada Lovelace MIT"), terms("一 two 三四")]
    assert tsvector_text(fields) == (
        "'深度':1A '度学':2A '学习':3A 'for':4A 'graphs':5A 'ada':6B 'lovelace':7B "
        "'mit':8B '一':9C 'two':10C '三四':11C")
    assert tsvector_text(fields[:1]) == "'深度':1A '度学':2A '学习':3A 'for':4A 'graphs':5A"


def test_literal_of_empty_and_long_fields() -> None:
    assert tsvector_text([]) == ""
    assert tsvector_text([[], [], []]) == ""
    assert tsvector_text([[], ["x"], []]) == "'x':1B"
    for sizes in ((16383, 1, 1), (16000, 500, 10), (0, 0, 20000), (3, 16379, 5)):
        fields = [[f"w{n % 7}" for n in range(size)] for size in sizes]
        assert tsvector_text(fields) == _formatted(fields)
    assert tsvector_text([["a"] * 17000]).endswith("'a':16383A")
