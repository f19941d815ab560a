"""Tests for reorder.document: byte-exact splitting and rendering, unit roles, arrange()."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reorder.document import (
    ROLES,
    UNIT_KINDS,
    Document,
    arrange,
    detect_roles,
    split,
)
from reorder.errors import InvalidInputError

SEED = Path(__file__).resolve().parent.parent / "seeds" / "russia-syria-withdrawal-2016.txt"


def seed_text() -> str:
    # Bytes, decoded: read_text would translate the line endings.
    return SEED.read_bytes().decode("utf-8")


# --------------------------------------------------------------------------- paragraphs


def test_paragraphs_simple() -> None:
    doc = split("One.\n\nTwo\nlines.\n\n\nThree.\n")
    assert doc.units == ("One.", "Two\nlines.", "Three.")
    assert doc.separators == ("", "\n\n", "\n\n\n", "\n")
    assert doc.unit == "paragraph" and doc.newline == "\n"
    assert len(doc) == 3
    assert doc.text == doc.render() == "One.\n\nTwo\nlines.\n\n\nThree.\n"


def test_paragraphs_crlf_stay_crlf() -> None:
    text = "First para\r\nsecond line\r\n\r\nSecond para\r\n"
    doc = split(text)
    assert doc.units == ("First para\r\nsecond line", "Second para")
    assert doc.newline == "\r\n"
    assert doc.render([1, 0]) == "Second para\r\n\r\nFirst para\r\nsecond line\r\n"


def test_paragraphs_old_mac_line_endings() -> None:
    doc = split("a\rb\r\rc")
    assert doc.units == ("a\rb", "c")
    assert doc.newline == "\r"


def test_paragraphs_whitespace_only_blank_lines_and_edges() -> None:
    text = "\n \n  Lead para\nmore  \n \t \nNext\n\n\n  \n"
    doc = split(text)
    assert doc.units == ("Lead para\nmore", "Next")
    assert doc.separators == ("\n \n  ", "  \n \t \n", "\n\n\n  \n")
    assert doc.render() == text
    # Leading and trailing text never move; the middle separator stays in its slot.
    assert doc.render([1, 0]) == "\n \n  Next  \n \t \nLead para\nmore\n\n\n  \n"


def test_no_final_newline_unit_moves_to_the_middle() -> None:
    text = "A.\n\nB.\n\nC."
    doc = split(text)
    assert doc.separators == ("", "\n\n", "\n\n", "")
    assert doc.render([2, 0, 1]) == "C.\n\nA.\n\nB."


def test_single_line_without_blank_line_is_one_paragraph() -> None:
    doc = split("a\nb\nc")
    assert doc.units == ("a\nb\nc",)
    assert doc.render([0]) == "a\nb\nc"


@pytest.mark.parametrize("unit", UNIT_KINDS)
@pytest.mark.parametrize("text", ["", " ", "\n\n", " \r\n\t\r\n", "\u2028\x0c"])
def test_empty_and_whitespace_only_text_has_no_units(text: str, unit: str) -> None:
    doc = split(text, unit)
    assert len(doc) == 0
    assert doc.units == ()
    assert doc.separators == (text,)
    assert doc.render() == doc.render([]) == text


def test_control_characters_are_text() -> None:
    text = "a\x00b\x01\n\n\x7fc\x1b"
    doc = split(text)
    assert doc.units == ("a\x00b\x01", "\x7fc\x1b")
    assert doc.render([1, 0]) == "\x7fc\x1b\n\na\x00b\x01"


# --------------------------------------------------------------------------- lines


def test_lines() -> None:
    text = "  one\r\ntwo  \r\n\r\n\tthree\r\n"
    doc = split(text, "line")
    assert doc.units == ("one", "two", "three")
    assert doc.separators == ("  ", "\r\n", "  \r\n\r\n\t", "\r\n")
    assert doc.unit == "line" and doc.newline == "\r\n"
    assert doc.render([2, 1, 0]) == "  three\r\ntwo  \r\n\r\n\tone\r\n"


# --------------------------------------------------------------------------- sentences


def test_sentences_within_paragraphs() -> None:
    text = "Hello there.  Mr. Smith went to D.C. today! Did he?\n\nYes. He did.\n"
    doc = split(text, "sentence")
    assert doc.units == (
        "Hello there.",
        "Mr. Smith went to D.C. today!",
        "Did he?",
        "Yes.",
        "He did.",
    )
    assert doc.separators == ("", "  ", " ", "\n\n", " ", "\n")
    assert doc.render() == text


def test_sentences_never_cross_paragraphs() -> None:
    doc = split("An unfinished thought\n\nwith a lowercase continuation.", "sentence")
    assert doc.units == ("An unfinished thought", "with a lowercase continuation.")


def test_sentences_keep_soft_wraps_and_crlf() -> None:
    text = "This sentence is\r\nwrapped over lines. Another one.\r\n"
    doc = split(text, "sentence")
    assert doc.units == ("This sentence is\r\nwrapped over lines.", "Another one.")
    assert doc.render([1, 0]) == "Another one. This sentence is\r\nwrapped over lines.\r\n"


def test_sentences_single_unit_without_punctuation() -> None:
    doc = split("just words", "sentence")
    assert doc.units == ("just words",)
    assert doc.separators == ("", "")


def test_sentences_on_the_seed_round_trip() -> None:
    text = seed_text()
    doc = split(text, "sentence")
    assert doc.render() == text
    sentence = (
        "The U.N. special envoy for Syria called Putin’s announcement a "
        "“significant development”."
    )
    assert sentence in doc.units


class _FakeSpan:
    def __init__(self, sent: str) -> None:
        self.sent = sent


class _MangledSegmenter:
    """Stands in for pysbd when it alters text: cleans quotes, drops a segment, adds one."""

    def segment(self, text: str) -> list[_FakeSpan]:
        return [
            _FakeSpan("First one. "),
            _FakeSpan('He said "hi". '),  # pysbd altered the curly quotes: cannot be found
            _FakeSpan("ghost sentence. "),  # not in the text at all
            _FakeSpan("Last one."),
        ]


def test_sentences_repair_when_the_segmenter_alters_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import reorder.document as document

    monkeypatch.setattr(document, "_segmenter", lambda: _MangledSegmenter())
    text = "First one. He said \u201chi\u201d. Last one.\n"
    doc = split(text, "sentence")
    assert doc.render() == text
    # The unfindable segment joins the one before it; nothing is lost.
    assert doc.units == ("First one. He said \u201chi\u201d.", "Last one.")


# --------------------------------------------------------------------------- errors


def test_unknown_unit_kind_names_the_allowed_values() -> None:
    with pytest.raises(InvalidInputError, match="paragraph.*line.*sentence.*'word'"):
        split("text", "word")


def test_non_str_text_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="str"):
        split(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize("order", [[0, 0, 1], [0, 1], [0, 1, 2, 3], [0, 1, 3], ["a", 1, 2], None])
def test_render_rejects_non_permutations(order: object) -> None:
    doc = split("a\n\nb\n\nc")
    if order is None:
        assert doc.render(None) == "a\n\nb\n\nc"
        return
    with pytest.raises(InvalidInputError, match="permutation"):
        doc.render(order)  # type: ignore[arg-type]


def test_document_validates_its_fields() -> None:
    with pytest.raises(InvalidInputError, match="separators"):
        Document(("a",), ("",), "paragraph", "\n")
    with pytest.raises(InvalidInputError, match="unit"):
        Document(("a",), ("", ""), "word", "\n")


# --------------------------------------------------------------------------- properties

_PIECE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    min_size=1,
    max_size=30,
)
_BREAK = st.sampled_from(["\n", "\r\n", "\r"])
_SEPARATOR = st.lists(
    st.sampled_from(["\n", "\r\n", "\r", " ", "\t", " \n", "\n  \n"]), min_size=1, max_size=4
).map("".join)


@st.composite
def paragraphish(draw: st.DrawFn) -> str:
    """Text built from line pieces joined by single line breaks or random separators."""
    pieces = draw(st.lists(_PIECE, min_size=0, max_size=8))
    out = [draw(st.sampled_from(["", "\n", " ", "\r\n\r\n "]))]
    for k, piece in enumerate(pieces):
        if k:
            out.append(draw(st.one_of(_BREAK, _SEPARATOR)))
        out.append(piece)
    out.append(draw(st.sampled_from(["", "\n", "\r\n", " \n\n", "\r"])))
    return "".join(out)


TEXTS = st.one_of(st.text(max_size=80), paragraphish())


@settings(max_examples=150, deadline=None)
@given(text=TEXTS, unit=st.sampled_from(UNIT_KINDS))
def test_split_then_render_is_the_identity(text: str, unit: str) -> None:
    doc = split(text, unit)
    assert doc.render() == text
    assert len(doc.separators) == len(doc.units) + 1
    assert all(u and u == u.strip() for u in doc.units)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), text=TEXTS, unit=st.sampled_from(UNIT_KINDS))
def test_any_permutation_keeps_every_unit(data: st.DataObject, text: str, unit: str) -> None:
    doc = split(text, unit)
    order = data.draw(st.permutations(range(len(doc))))
    out = doc.render(order)
    for u in doc.units:
        assert u in out
    assert Counter(out) == Counter(text)  # every character kept, none added
    assert out.startswith(doc.separators[0]) and out.endswith(doc.separators[-1])
    if unit != "sentence":
        # Each separator between paragraphs (lines) holds a blank line (a line break), and units
        # hold none, so splitting the output again finds the same units.
        assert Counter(split(out, unit).units) == Counter(doc.units)
    if unit == "paragraph":
        assert sorted(split(out).units) == sorted(doc.units)


# --------------------------------------------------------------------------- roles


def test_roles_on_the_seed() -> None:
    doc = split(seed_text())
    roles = detect_roles(doc.units)
    assert len(roles) == len(doc) == 26
    assert set(roles) <= set(ROLES)
    by_role = {r: [u for u, rr in zip(doc.units, roles) if rr == r] for r in ROLES}
    assert by_role["heading"] == ["Moscow says Russian planes are getting ready to leave Syria"]
    assert by_role["furniture"] == ["Share", "Advertisement", "Advertisement", "Vladimir Putin"]
    assert roles[0] == "furniture" and roles[1] == "heading" and roles[-1] == "furniture"
    assert roles.count("content") == 21
    quote = "“What is the real issue – the mother of all issues?”"
    assert roles[doc.units.index(quote)] == "content"


def test_plain_sentences_are_all_content() -> None:
    story = [
        "Tom went to the store.",
        "He bought a carton of milk.",
        "The milk was sour when he got home.",
        "He returned it the next day.",
        "The clerk apologized and gave him a refund.",
    ]
    assert detect_roles(story) == ["content"] * 5
    abstract = split(
        "We propose a new method for learning. Our method is fast. It beats the baselines. "
        "Experiments confirm this. We release the code.",
        "sentence",
    )
    assert detect_roles(abstract.units) == ["content"] * 5


@pytest.mark.parametrize(
    "unit",
    [
        "Share",
        "Advertisements",
        "Related",
        "Read more",
        "Read more: Russia starts pulling its jets out of Syria",
        "Click here to subscribe",
        "Follow us on Twitter",
        "Sign up for our newsletter",
        "Image copyright Getty Images",
        "Photo: Reuters",
        "Getty Images",
        "(AP)",
        "Continue reading",
        "Story continues below",
        "COMMENTS",
    ],
)
def test_furniture_phrases(unit: str) -> None:
    assert detect_roles(["Body sentence one.", unit, "Body sentence two."])[1] == "furniture"


@pytest.mark.parametrize(
    "unit",
    [
        "Share prices fell sharply on Monday.",
        "Sign up for the free trial today, the company said in a statement.",
        "Copyright law was changed in 2019, the minister said.",
        "More than 100 people were killed.",
        "The Road Ahead",
        "He left",
    ],
)
def test_real_text_is_not_furniture(unit: str) -> None:
    assert detect_roles(["Body sentence one.", unit, "Body sentence two."])[1] == "content"


def test_bare_name_at_the_top_is_a_heading_elsewhere_furniture() -> None:
    units = ["Vladimir Putin", "A sentence of body text.", "Bashar al-Assad", "More text."]
    assert detect_roles(units) == ["heading", "content", "furniture", "content"]


def test_at_most_one_heading_and_none_after_the_first_paragraph() -> None:
    units = ["Advertisement", "Big Title", "Second Title Of The Day", "Body text here."]
    assert detect_roles(units) == ["furniture", "heading", "content", "content"]
    late = ["Body text comes first.", "A Later Title Line", "More body."]
    assert detect_roles(late) == ["content", "content", "content"]
    assert detect_roles([]) == []


def test_detect_roles_rejects_a_bare_string() -> None:
    with pytest.raises(InvalidInputError):
        detect_roles("Share")


# --------------------------------------------------------------------------- arrange


def test_arrange_keep_drop_end() -> None:
    roles = ["furniture", "heading", "content", "furniture", "content", "content"]
    assert arrange(roles, [5, 2, 4]) == [0, 1, 5, 3, 2, 4]
    assert arrange(roles, [5, 2, 4], furniture="drop") == [1, 5, 2, 4]
    assert arrange(roles, [5, 2, 4], furniture="end") == [1, 5, 2, 4, 0, 3]


def test_arrange_on_the_seed_identity_and_reversal() -> None:
    doc = split(seed_text())
    roles = detect_roles(doc.units)
    content = [i for i, r in enumerate(roles) if r == "content"]
    assert arrange(roles, content) == list(range(len(doc)))
    reordered = doc.render(arrange(roles, content[::-1]))
    # Furniture keeps its slots, the heading leads the content, the content is reversed.
    assert reordered.startswith(
        "Share\n\nMoscow says Russian planes are getting ready to leave Syria\n\n"
        "Not all Russian troops will be leaving the war-torn country.\n\nAdvertisement\n\n"
    )
    assert reordered.endswith("\n\nVladimir Putin")
    assert sorted(split(reordered).units) == sorted(doc.units)


def test_arrange_heading_moves_to_the_front() -> None:
    roles = ["content", "heading", "content"]
    assert arrange(roles, [2, 0]) == [1, 2, 0]


@pytest.mark.parametrize(
    ("roles", "content_order", "furniture", "match"),
    [
        (["content", "content"], [0], "keep", "content_order"),
        (["content", "content"], [0, 0], "keep", "content_order"),
        (["content", "furniture"], [0, 1], "keep", "content_order"),
        (["content", "text"], [0], "keep", "role"),
        (["content"], [0], "hide", "furniture"),
        (["content"], ["x"], "keep", "integers"),
    ],
)
def test_arrange_rejects_bad_input(
    roles: list[str], content_order: list[int], furniture: str, match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        arrange(roles, content_order, furniture=furniture)
