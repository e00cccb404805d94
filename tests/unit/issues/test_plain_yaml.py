"""Issue YAML without anchors or aliases is built directly from its node tree (issue 20's
build speed): the data is what PyYAML's constructor builds from the same text, and every
text PyYAML refuses is still refused."""

from __future__ import annotations

import random

import pytest
import yaml
from support.env import SAMPLE_ISSUE

from newsletter.issues.yaml_source import DuplicateKey, _UniqueLoader, load_unique

TEXT = SAMPLE_ISSUE.read_text("utf-8")

CASES = [
    "a: 1\nb: -2.5e+3\nc: 0x1f\nd: 1:30\ne: .inf\nf: .nan\n",
    "a: yes\nb: No\nc: ~\nd: null\ne:\nf: ''\n",
    "date: 2022-09-07\nbad: 2026-02-30\nwhen: 2022-09-07 10:00:00\n",
    "a: [1, [2, [3, {b: c}]]]\nd: {e: [f, g]}\n",
    "s: !!set {a, b}\no: !!omap [a: 1, b: 2]\np: !!pairs [a: 1, a: 2]\n",
    "base:\n  <<: {x: 1, y: 2}\n  y: 3\n",
    "=: value key\n",
    "1: int key\n'1': text key\n",
    "? [a, b]\n: complex key\n",
    "? {a: b}\n: mapping key\n",
    "a: 1\na: 2\n",
    "outer:\n  inner: 1\n  inner: 2\n",
    "list:\n- {a: 1, a: 1}\n",
    'q: "quoted \\u00e9 \\n"\nb: |\n  block\n  text\nf: >\n  folded\n  text\n',
    "t: !!str 123\nu: !!int '42'\nv: !!float '1'\nw: !!binary aGVsbG8=\n",
    "x: !!str [a]\n",
    "y: !custom 1\n",
    "- a\n- b\n",
    "just text\n",
    "",
    "a: [",
]


def built(text: str) -> object:
    """What PyYAML's own constructor makes of ``text`` (or the kind of error it raises)."""
    loader = _UniqueLoader(text)
    try:
        return loader.get_single_data()
    except DuplicateKey:
        return DuplicateKey
    except yaml.YAMLError:
        return yaml.YAMLError
    finally:
        loader.dispose()


def quick(text: str) -> object:
    try:
        return load_unique(text)
    except DuplicateKey:
        return DuplicateKey
    except yaml.YAMLError:
        return yaml.YAMLError


@pytest.mark.parametrize("text", CASES)
def test_the_data_is_pyyamls(text: str) -> None:
    assert "&" not in text and "*" not in text
    assert quick(text) == built(text)


@pytest.mark.slow
def test_the_sample_and_mangled_samples_build_alike() -> None:
    """The sample issue, and 300 copies with lines dropped, repeated, swapped or
    re-indented at random (seeded): the same data or the same refusal."""
    assert quick(TEXT) == built(TEXT) and isinstance(quick(TEXT), dict)
    rng = random.Random(20)
    lines = TEXT.split("\n")
    outcomes = set()
    for _ in range(300):
        mangled = list(lines)
        for _ in range(rng.randrange(1, 4)):
            n, m = rng.randrange(len(mangled)), rng.randrange(len(mangled))
            how = rng.randrange(4)
            if how == 0:
                del mangled[n]
            elif how == 1:
                mangled.insert(n, mangled[m])
            elif how == 2:
                mangled[n], mangled[m] = mangled[m], mangled[n]
            else:
                mangled[n] = "  " + mangled[n]
        text = "\n".join(mangled)
        expected = built(text)
        assert quick(text) == expected, text
        outcomes.add(expected if isinstance(expected, type) else dict)
    assert outcomes == {dict, DuplicateKey, yaml.YAMLError}
