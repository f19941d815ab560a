"""Property tests: any text round-trips through split/render; any bytes are text or a clean error.

Bounded so that the whole file runs in a few seconds (sentences go through pysbd, the slowest part).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reorder.cli import read_text
from reorder.document import UNIT_KINDS, split
from reorder.errors import InvalidInputError

# Pieces that stress the splitter: every line ending, blank lines, Unicode spaces and line
# separators, control characters other than NUL, abbreviations and sentence ends.
PIECES = [
    "\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\r\r", " ", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "\x85",
    "\u2028", "\u2029", "\u00a0", "\u3000", "\x01", "\x7f", "\ufeff", "é", "ß", "😀", "中文", "٣",
    ". ", "? ", "! ", "Mr. ", "U.S. ", "e.g. ", "...", "“", "”", '"', "(", ")", "-", ",", "A", "word", "Word",
]
texts = st.lists(
    st.one_of(
        st.sampled_from(PIECES),
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
    ),
    max_size=40,
).map("".join)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("unit", UNIT_KINDS)
@FUZZ
@given(text=texts, data=st.data())
def test_split_render_round_trip(unit, text, data):
    document = split(text, unit)
    assert document.render() == text
    n = len(document)
    assert len(document.separators) == n + 1
    for u in document.units:
        assert u and u == u.strip()
    order = data.draw(st.permutations(range(n)))
    out = document.render(order)
    assert len(out) == len(text)
    assert Counter(out) == Counter(text)
    assert out.startswith(document.separators[0]) and out.endswith(document.separators[-1])
    assert [out.find(document.units[i]) >= 0 for i in order] == [True] * n


ENCODINGS = ["utf-8", "latin-1", "ascii", "utf-16", "utf-16-le", "utf-8-sig", "cp1252", "utf-7", "idna",
             "punycode", "rot13", "no-such-codec"]
raw = st.one_of(
    st.binary(max_size=64),
    texts.map(lambda t: t.encode("utf-8")),
    st.lists(st.sampled_from([b"\xff", b"\xfe", b"\x00", b"\xc3", b"\xa9", b"abc", b"\r\n", b"\xed\xa0\x80"]))
    .map(b"".join),
)


@FUZZ
@given(data=raw, encoding=st.sampled_from(ENCODINGS))
def test_read_text_gives_str_or_a_clean_error(tmp_path, data, encoding):
    path = tmp_path / "input.txt"
    path.write_bytes(data)
    try:
        text = read_text(str(path), encoding)
    except InvalidInputError as exc:
        message = str(exc)
        assert message and "\n" not in message
        return
    assert isinstance(text, str)
    if encoding == "utf-8":
        assert text.encode("utf-8") == data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts)
def test_reorder_text_keeps_every_unit(fast_reorderer, text):
    # at most a dozen paragraphs, so that the exact search stays cheap
    document = split(text)
    if len(document) > 12:
        return
    for roles in (True, False):
        result = fast_reorderer(roles=roles).reorder_text(text)
        assert sorted(result.permutation) == list(range(len(document)))
        assert Counter(split(result.text).units) == Counter(document.units)
        assert len(result.text) == len(text)
