"""Bad and awkward inputs (issue 6), through the CLI and the library.

Each input gets either a correct answer (every unit kept, byte for byte) or a one-line error on
stderr with exit code 1 (usage errors 2), never a traceback (the ``cli`` fixture fails on one).

Decided behaviour: an empty or whitespace-only input is not an error. ``reorder order`` exits 0,
writes the input back unchanged and warns on stderr that there was nothing to reorder.
"""

from __future__ import annotations

import logging
import re
from collections import Counter

import pytest

from reorder.document import split
from reorder.errors import InvalidInputError


def write(tmp_path, data: bytes, name: str = "input.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def byte_paragraphs(data: bytes) -> Counter:
    return Counter(p.strip() for p in re.split(rb"(?:\r?\n|\r)\s*(?:\r?\n|\r)", data) if p.strip())


def one_line_error(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def many_paragraphs(n: int) -> bytes:
    return "".join(f"Paragraph {i} mentions item{i % 97} and group{i % 13} once.\n\n" for i in range(n)).encode()


# --- empty, tiny ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\n\t \r\n  \n", b"\n"])
def test_empty_or_whitespace_only_file_is_echoed_with_a_warning(cli, tmp_path, data):
    result = cli("order", write(tmp_path, data))
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == data
    assert "warning" in result.stderr.lower() or "nothing to reorder" in result.stderr
    assert "nothing to reorder" in result.stderr


@pytest.mark.parametrize("text", ["", "  \n\n \t"])
def test_library_empty_text(fast_reorderer, text):
    result = fast_reorderer().reorder_text(text)
    assert result.text == text and result.permutation == [] and result.units == ()
    assert fast_reorderer().order([]) == []


@pytest.mark.parametrize("data", [b"Only one paragraph here.\n", b"\n\n  Indented single unit  \n\n\n"])
def test_one_unit_comes_back_unchanged(cli, tmp_path, data):
    result = cli("order", write(tmp_path, data))
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == data
    assert result.stderr == ""


def test_two_units_both_kept(cli, tmp_path, fast_reorderer):
    data = b"The second thing happened later.\n\nThe first thing happened early.\n"
    result = cli("order", write(tmp_path, data), "--all-content")
    assert result.exit_code == 0, result.output
    assert byte_paragraphs(result.stdout_bytes) == byte_paragraphs(data)
    assert len(result.stdout_bytes) == len(data)
    assert sorted(fast_reorderer().order(["b", "a"])) == [0, 1]


# --- bytes that are not text ---------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", b"text\x00more text\n\nother\n"])
def test_binary_file_is_a_one_line_error(cli, tmp_path, data):
    line = one_line_error(cli("order", write(tmp_path, data, "image.png")))
    assert "NUL bytes" in line and "binary" in line


def test_nul_characters_are_ordinary_text_to_the_library(fast_reorderer):
    text = "first\x00unit\n\nsecond unit\x01\x7f\n\nthird"
    result = fast_reorderer(roles=False).reorder_text(text)
    assert Counter(split(result.text).units) == Counter(split(text).units)


def test_utf16_input_with_nul_bytes_is_accepted_when_named(cli, tmp_path):
    text = "Première partie du texte.\n\nDeuxième partie, ensuite.\n\nTroisième et dernière.\n"
    data = text.encode("utf-16")
    result = cli("order", write(tmp_path, data), "--encoding", "utf-16", "--all-content")
    assert result.exit_code == 0, result.output
    out = result.stdout_bytes.decode("utf-16")
    assert Counter(split(out).units) == Counter(split(text).units)


def test_invalid_utf8_names_the_problem_and_suggests_encoding(cli, tmp_path):
    data = "Un café au lait.\n\nDeuxième paragraphe.\n".encode("latin-1")
    line = one_line_error(cli("order", write(tmp_path, data)))
    assert "not valid utf-8" in line
    assert "byte 0xe9 at offset 6" in line
    assert "--encoding" in line


def test_invalid_utf8_on_stdin(cli):
    line = one_line_error(cli("order", "-", input=b"caf\xe9\n\nthe\xff end\n"))
    assert "<stdin> is not valid utf-8" in line and "--encoding" in line


def test_latin1_round_trips_byte_for_byte(cli, tmp_path):
    data = "Un café au lait, s'il vous plaît.\n\nDeuxième paragraphe, très long.\n\nÇa suffit.\n".encode("latin-1")
    path = write(tmp_path, data)
    result = cli("order", path, "--encoding", "latin-1", "--all-content")
    assert result.exit_code == 0, result.output
    assert byte_paragraphs(result.stdout_bytes) == byte_paragraphs(data)
    assert len(result.stdout_bytes) == len(data)
    # in place too: the file keeps its encoding
    assert cli("order", path, "--encoding", "latin-1", "--in-place").exit_code == 0
    assert path.read_bytes() == result.stdout_bytes


@pytest.mark.parametrize("encoding", ["utf_16", "UTF-16", "utf16"])
def test_utf16_aliases_allow_nul_bytes(cli, tmp_path, encoding):
    data = "One paragraph.\n\nAnother one.\n".encode("utf-16")
    result = cli("order", write(tmp_path, data), "--encoding", encoding)
    assert result.exit_code == 0, result.output
    expected = byte_paragraphs(b"One paragraph.\n\nAnother one.\n")
    assert byte_paragraphs(result.stdout_bytes.decode("utf-16").encode()) == expected


@pytest.mark.parametrize(
    "encoding, data, message",
    [
        ("punycode", b"abc\n\n\x01def\n", "cannot be decoded as punycode"),  # raises UnicodeError, not ...DecodeError
        ("idna", b"abc\n\ndef\n", "cannot write the output"),  # decodes, but cannot encode with an error handler
    ],
)
def test_odd_codecs_fail_in_one_line(cli, tmp_path, encoding, data, message):
    path = write(tmp_path, data)
    line = one_line_error(cli("order", path, "--encoding", encoding))
    assert message in line
    assert one_line_error(cli("order", path, "--encoding", encoding, "--in-place"))
    assert path.read_bytes() == data


def test_unknown_encoding_is_a_one_line_error(cli, tmp_path):
    line = one_line_error(cli("order", write(tmp_path, b"abc\n"), "--encoding", "klingon"))
    assert "unknown encoding 'klingon'" in line


# --- layout kept ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"First paragraph,\r\nwrapped.\r\n\r\nSecond paragraph.\r\n\r\n\r\nThird one.\r\n",
        b"Mixed endings.\r\n\r\nUnix here.\n\nOld Mac here.\r\rLast.",
    ],
)
def test_line_endings_are_kept_byte_for_byte(cli, tmp_path, data):
    result = cli("order", write(tmp_path, data), "--all-content")
    assert result.exit_code == 0, result.output
    out = result.stdout_bytes
    assert len(out) == len(data)
    assert byte_paragraphs(out) == byte_paragraphs(data)
    # every separator stays in its slot, so the layout between units is the input's, exactly
    assert split(out.decode()).separators == split(data.decode()).separators
    assert out.count(b"\r\n") >= data.count(b"\r\n") - 1  # a unit's own CRLFs move with it
    assert sorted(out) == sorted(data)


def test_duplicate_units_are_each_kept(cli, tmp_path, fast_reorderer):
    data = b"Same paragraph.\n\nAnother one.\n\nSame paragraph.\n\nSame paragraph.\n"
    result = cli("order", write(tmp_path, data))
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.count(b"Same paragraph.") == 3
    assert byte_paragraphs(result.stdout_bytes) == byte_paragraphs(data)
    order = fast_reorderer().order(["x", "y", "x", "x"])
    assert sorted(order) == [0, 1, 2, 3]


# --- large inputs --------------------------------------------------------------------------------------


def test_a_100kb_paragraph_is_handled(cli, tmp_path):
    huge = ("A very long paragraph with many words " * 2700).strip().encode()
    assert len(huge) > 100_000
    data = b"Short opening paragraph.\n\n" + huge + b"\n\nShort closing paragraph.\n"
    result = cli("order", write(tmp_path, data))
    assert result.exit_code == 0, result.output
    assert byte_paragraphs(result.stdout_bytes) == byte_paragraphs(data)


@pytest.mark.slow
def test_a_100kb_paragraph_with_the_real_model(real_reorderer):
    """The embedder reads a few hundred tokens at most: the long unit is truncated for embedding, kept whole in
    the output."""
    huge = " ".join(f"Sentence {i} of a very long report on the talks in Geneva." for i in range(1800))
    assert len(huge) > 100_000
    text = f"Talks resume in Geneva\n\nDiplomats met on Monday.\n\n{huge}\n\nThe talks end on Friday.\n"
    result = real_reorderer.reorder_text(text)
    assert Counter(split(result.text).units) == Counter(split(text).units)
    assert result.text.startswith("Talks resume in Geneva\n\n")


def test_2000_units_are_answered_by_the_heuristic_with_a_warning(cli, tmp_path):
    data = many_paragraphs(2000)
    result = cli("order", write(tmp_path, data), "--model", "similarity", "--time-limit", "0.5", "--all-content")
    assert result.exit_code == 0, result.output
    assert byte_paragraphs(result.stdout_bytes) == byte_paragraphs(data)
    assert "not proven optimal" in result.stderr
    assert "heuristic" in result.stderr


def test_2000_units_through_the_library_log_a_warning(stand_in, caplog):
    from reorder.pipeline import Reorderer

    text = many_paragraphs(2000).decode()
    with caplog.at_level(logging.WARNING, logger="reorder"):
        result = Reorderer(model="similarity", embedder=stand_in, time_limit=0.3, roles=False).reorder_text(text)
    assert result.optimal is False and result.method == "heuristic"
    assert sorted(result.permutation) == list(range(2000))
    assert any("not proven optimal" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_small_inputs_give_no_warning(fast_reorderer, caplog):
    with caplog.at_level(logging.WARNING, logger="reorder"):
        result = fast_reorderer().reorder_text(many_paragraphs(6).decode())
    assert result.optimal
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- files that are not there ----------------------------------------------------------------------------


def test_missing_file_is_a_one_line_error(cli, tmp_path):
    line = one_line_error(cli("order", tmp_path / "missing.txt"))
    assert "missing.txt: no such file" in line


def test_directory_is_a_one_line_error(cli, tmp_path):
    line = one_line_error(cli("order", tmp_path))
    assert "is a directory" in line


def test_unwritable_output_is_a_one_line_error(cli, tmp_path):
    path = write(tmp_path, b"a\n\nb\n")
    line = one_line_error(cli("order", path, "-o", tmp_path / "no" / "such" / "dir" / "out.txt"))
    assert "No such file or directory" in line
    line = one_line_error(cli("order", path, "-o", tmp_path))  # a directory
    assert path.read_bytes() == b"a\n\nb\n"
    assert [p.name for p in tmp_path.iterdir()] == ["input.txt"]  # no temporary file left behind


# --- determinism -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [[], ["--format", "json"], ["--unit", "sentence", "--all-content"],
     ["--search", "heuristic", "--seed", "5", "--time-limit", "5"],
     ["--model", "similarity", "--furniture", "end"]],
)
def test_same_input_and_options_give_the_same_bytes(cli, tmp_path, options):
    text = "".join(f"Item {i} says that thing {i % 4} happened. It matters for part {i % 3}.\n\n" for i in range(12))
    path = write(tmp_path, ("Title of the piece\n\nShare\n\n" + text).encode())
    first = cli("order", path, *options)
    second = cli("order", path, *options)
    assert first.exit_code == 0, first.output
    assert first.stdout_bytes == second.stdout_bytes


def test_library_errors_are_reorder_errors(fast_reorderer):
    with pytest.raises(InvalidInputError):
        fast_reorderer().reorder_text(b"bytes are not text")
