"""Split text into units and render them back, byte for byte; tell content from page furniture.

A :class:`Document` is the text cut into *units* (paragraphs, lines or sentences) and the
*separators* around them, so that ``"".join`` of the interleaved separators and units is the
original text, exactly::

    separators[0] + units[0] + separators[1] + units[1] + ... + units[n-1] + separators[n]

Units never begin or end with whitespace: all layout (indentation, trailing spaces, line endings,
blank lines) lives in the separators. Reordering moves units only; every separator stays in its
slot (see :meth:`Document.render`), so the leading and trailing text of the file, its line endings
(CRLF stays CRLF) and its spacing are kept, and every unit appears in the output unchanged.

:func:`detect_roles` labels units as ``"content"``, ``"heading"`` or ``"furniture"`` (page
furniture such as "Share" or "Advertisement") with conservative heuristics, and :func:`arrange`
turns an order of the content units into a full order of the document.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInputError
from .validation import check_permutation

__all__ = [
    "UNIT_KINDS",
    "ROLES",
    "FURNITURE_OPTIONS",
    "Document",
    "split",
    "detect_roles",
    "arrange",
    "units_with_roles",
]

UNIT_KINDS = ("paragraph", "line", "sentence")
ROLES = ("content", "heading", "furniture")
FURNITURE_OPTIONS = ("keep", "drop", "end")

_NEWLINES = ("\n", "\r\n", "\r")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Python's \s on str is exactly str.isspace(), so "blank" and "strip" agree everywhere below.
_NON_SPACE_RUN = re.compile(r"\S+")


@dataclass(frozen=True)
class Document:
    """A text cut into units, with the separators that put it back together.

    Parameters
    ----------
    units : tuple of str, length n
        The exact text of each unit, in the original order. A unit never starts or ends with
        whitespace (for documents made by :func:`split`).
    separators : tuple of str, length n + 1
        ``separators[0]`` is the text before the first unit, ``separators[n]`` the text after
        the last one, and ``separators[k]`` (0 < k < n) the text between units k-1 and k.
        With no units, ``separators == (text,)``.
    unit : str
        The kind of splitting that produced the units, one of :data:`UNIT_KINDS`.
    newline : str
        The dominant line ending of the text: ``"\\n"``, ``"\\r\\n"`` or ``"\\r"``.
    """

    units: tuple[str, ...]
    separators: tuple[str, ...]
    unit: str = "paragraph"
    newline: str = "\n"

    def __post_init__(self) -> None:
        # Accept any sequence but store tuples, so that the frozen object is truly immutable.
        object.__setattr__(self, "units", tuple(self.units))
        object.__setattr__(self, "separators", tuple(self.separators))
        if len(self.separators) != len(self.units) + 1:
            raise InvalidInputError(
                f"separators must have len(units) + 1 = {len(self.units) + 1} items; "
                f"got {len(self.separators)}"
            )
        if not all(isinstance(s, str) for s in self.units + self.separators):
            raise InvalidInputError("units and separators must all be str")
        if self.unit not in UNIT_KINDS:
            raise InvalidInputError(f"unit must be one of {UNIT_KINDS}; got {self.unit!r}")
        if self.newline not in _NEWLINES:
            raise InvalidInputError(f"newline must be one of {_NEWLINES}; got {self.newline!r}")

    def __len__(self) -> int:
        return len(self.units)

    @property
    def text(self) -> str:
        """The original text, ``render()`` in the original order."""
        return self.render()

    def render(self, order: Sequence[int] | None = None) -> str:
        """Join the units in ``order``, each separator staying in its slot.

        The k-th unit of the output is ``units[order[k]]``; it is preceded by ``separators[k]``
        and the output ends with ``separators[n]``. So the leading and trailing text never move,
        and the separator between the k-th and (k+1)-th output units is the one that stood
        between the k-th and (k+1)-th original units. ``render()`` and ``render(range(n))``
        return the original text exactly.

        Parameters
        ----------
        order : sequence of int of length n, optional
            A permutation of ``range(n)``; None means the original order.

        Returns
        -------
        str
            The reordered text: every unit exactly once, byte for byte.

        Raises
        ------
        InvalidInputError
            If ``order`` is not a permutation of ``range(n)``.
        """
        n = len(self.units)
        positions = range(n) if order is None else check_permutation(order, n, "order").tolist()
        parts = [self.separators[0]]
        for k, i in enumerate(positions):
            parts.append(self.units[i])
            parts.append(self.separators[k + 1])
        return "".join(parts)

    def render_selection(self, indices: Sequence[int]) -> str:
        """Render some of the units (e.g. with furniture dropped) in the order of ``indices``.

        A permutation of every unit renders as :meth:`render`; a shorter selection takes the
        separators of the first slots and ends with the text's trailing separator.
        """
        indices = [operator.index(i) for i in indices]
        if len(indices) == len(self.units):
            return self.render(indices)
        if len(set(indices)) != len(indices) or not all(0 <= i < len(self.units) for i in indices):
            raise InvalidInputError(f"indices must be distinct units of range({len(self.units)}); got {indices!r}")
        parts = [self.separators[0]]
        for k, index in enumerate(indices):
            parts.append(self.units[index])
            parts.append(self.separators[k + 1] if k + 1 < len(indices) else self.separators[-1])
        return "".join(parts)


# --------------------------------------------------------------------------- splitting


def split(text: str, unit: str = "paragraph") -> Document:
    """Cut ``text`` into units of the given kind.

    Parameters
    ----------
    text : str
        Any text. Empty or whitespace-only text gives a document with no units. Control
        characters (NUL included) are ordinary text.
    unit : {"paragraph", "line", "sentence"}
        * ``"paragraph"``: units are separated by at least one blank line (a line that is empty
          or whitespace only); line endings may be ``\\n``, ``\\r\\n`` or ``\\r``. A paragraph
          keeps its internal line breaks exactly.
        * ``"line"``: every non-blank line is a unit.
        * ``"sentence"``: sentences found by pysbd within each paragraph (a sentence never
          crosses a paragraph boundary); the whitespace between sentences is a separator.
          A line break inside a paragraph ends a sentence unless it looks like a soft wrap
          (the next line starts in lowercase, or the line ends with a comma or hyphen).

        In every case the whitespace around a unit (indentation, trailing spaces) belongs to
        the separators, so units start and end with a non-whitespace character.

    Returns
    -------
    Document
        With ``doc.render() == text``.

    Raises
    ------
    InvalidInputError
        If ``text`` is not a str or ``unit`` is not one of :data:`UNIT_KINDS`.
    """
    if not isinstance(text, str):
        raise InvalidInputError(
            f"text must be a str; got {type(text).__name__} (decode bytes first)"
        )
    if unit not in UNIT_KINDS:
        raise InvalidInputError(f"unit must be one of {UNIT_KINDS}; got {unit!r}")
    if unit == "paragraph":
        spans = _gap_spans(text, min_breaks=2)
    elif unit == "line":
        spans = _gap_spans(text, min_breaks=1)
    else:
        spans = [
            (start + s, start + e)
            for start, end in _gap_spans(text, min_breaks=2)
            for s, e in _sentence_spans(text[start:end])
        ]
    return _from_spans(text, spans, unit)


def _from_spans(text: str, spans: list[tuple[int, int]], unit: str) -> Document:
    """Build the document whose units are ``text[s:e]`` for the sorted, disjoint ``spans``."""
    units = tuple(text[s:e] for s, e in spans)
    bounds = [0] + [x for span in spans for x in span] + [len(text)]
    separators = tuple(text[bounds[2 * k] : bounds[2 * k + 1]] for k in range(len(spans) + 1))
    return Document(units, separators, unit, _dominant_newline(text))


def _gap_spans(text: str, min_breaks: int) -> list[tuple[int, int]]:
    """Spans of the stretches of ``text`` separated by whitespace holding >= min_breaks line breaks.

    Between two non-whitespace characters, a whitespace gap with one line break joins two
    consecutive lines, and one with two or more breaks contains whole whitespace-only lines,
    i.e. blank lines. So ``min_breaks=1`` cuts lines and ``min_breaks=2`` cuts paragraphs.
    The returned spans start and end on non-whitespace characters.
    """
    spans: list[tuple[int, int]] = []
    for word in _NON_SPACE_RUN.finditer(text):
        start, end = word.span()
        if spans and len(_LINE_BREAK.findall(text, spans[-1][1], start)) < min_breaks:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _dominant_newline(text: str) -> str:
    """The most frequent line ending; ties prefer ``\\n``, then ``\\r\\n``; ``\\n`` if none."""
    crlf = text.count("\r\n")
    counts = {"\n": text.count("\n") - crlf, "\r\n": crlf, "\r": text.count("\r") - crlf}
    return max(_NEWLINES, key=lambda nl: counts[nl])  # max keeps the first of equal keys


@functools.lru_cache(maxsize=1)
def _segmenter() -> Any:
    # Imported lazily: pysbd is only needed for sentence units, and building it costs ~10 ms.
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _soften_wraps(paragraph: str) -> str:
    """Replace soft line wraps by spaces, keeping every offset.

    pysbd treats every line break as a sentence boundary, which cuts hard-wrapped sentences
    into pieces. A break is taken as a wrap (not a boundary) when the next line starts with a
    lowercase letter or the line ends with a comma or a hyphen. The replacement has the same
    length as the break (``\\r\\n`` becomes two spaces), so offsets in the result are offsets
    in ``paragraph``.
    """

    def replace(match: re.Match[str]) -> str:
        before = paragraph[: match.start()].rstrip()
        after = paragraph[match.end() :].lstrip()
        soft = (after[:1].islower()) or before.endswith((",", "-"))
        return " " * len(match.group()) if soft else match.group()

    return _LINE_BREAK.sub(replace, paragraph)


def _sentence_spans(paragraph: str) -> list[tuple[int, int]]:
    """Sentence spans within one paragraph (which starts and ends with non-whitespace).

    pysbd only proposes where sentences start: each segment is located with ``str.find``
    from the end of the previous one, and a segment that cannot be found (pysbd altered it)
    is merged with the one before. Each sentence runs from its start to the next start, less
    trailing whitespace, so the sentences and the gaps between them tile the paragraph and no
    character can be lost, whatever pysbd returns.
    """
    prepared = _soften_wraps(paragraph)
    starts = [0]
    cursor = 0
    for segment in _segmenter().segment(prepared):
        piece = getattr(segment, "sent", segment).strip()
        if not piece:
            continue
        found = prepared.find(piece, cursor)
        if found < 0:
            continue
        if found > starts[-1]:
            starts.append(found)
        cursor = found + len(piece)
    starts.append(len(paragraph))
    spans = []
    for s, e in zip(starts, starts[1:]):
        spans.append((s, s + len(paragraph[s:e].rstrip())))
    return spans


# --------------------------------------------------------------------------- roles

#: Longest unit (in words) that a plain furniture phrase may match.
FURNITURE_MAX_WORDS = 6
#: Longest unit for furniture that opens with a label ("Read more: ...", "Photo: ...").
FURNITURE_LABEL_MAX_WORDS = 12
#: Longest unit (in words) that can be a heading.
HEADING_MAX_WORDS = 20
#: The heading must be among this many first units.
HEADING_WINDOW = 6

# Whole-unit phrases (case-insensitive, after collapsing whitespace and dropping edge punctuation).
_FURNITURE_PHRASES = [
    r"share( (this|the|on \w+)( (article|story|page|post|video))?)?",
    r"(tweet|e-?mail|print|save|whatsapp|facebook|twitter|linkedin|pinterest|reddit)( this)?",
    r"(skip )?advert(isement)?s?|advertising|ad|sponsored( content)?|promoted( content)?",
    r"related( (articles?|stories|story|content|links|coverage|topics|news|videos?))?",
    r"read more|more|see also|(you|you might|you may) also like|recommended( for you)?",
    r"(continue|keep) reading|(story|article) continues below",
    r"(\d+ )?comments?|(view|show|see|load|read) (all )?(\d+ )?comments",
    r"getty( images)?|(ap|afp|reuters|epa|pa)( photo)?|\((ap|afp|reuters|epa|pa)\)",
    r"loading|back to top|next (article|story)|previous (article|story)|most (read|popular)",
    r"all rights reserved|listen to (this )?(article|story)|trending( now)?",
]
# Labels that may be followed by a short tail ("Image copyright Getty Images").
_FURNITURE_LABELS = [
    r"read more",
    r"(continue|keep) reading",
    r"(story|article) continues below",
    r"click here",
    r"follow us",
    r"sign up( (for|to|now|here|today))?",
    r"subscribe (to|now|for|today|here)",
    r"image (copyright|caption|source)",
    r"(photo|photograph|picture|image|video|source|credit|photo credit)s?:",
    r"copyright (©|\(c\)|\d{4})|©",
    r"(see|read) also:?",
    r"more (from|on|about):?",
    r"related:",
    r"advertisement",
]
_FURNITURE_PHRASE_RE = re.compile(r"(?:%s)" % "|".join(_FURNITURE_PHRASES), re.IGNORECASE)
_FURNITURE_LABEL_RE = re.compile(
    r"(?:%s):?(?:\s|$|(?<=:))" % "|".join(_FURNITURE_LABELS), re.IGNORECASE
)
# Punctuation that may wrap a furniture phrase: "Share:", "» Read more", "(AP)" is a phrase.
_EDGE_PUNCT = " \t:.!»«›‹>|·•–—-"
_CLOSERS = "\"'”’»)]}"
_SENTENCE_END = ".!?:;"
# Lowercase particles allowed inside a name ("Staffan de Mistura", "Bashar al-Assad").
_NAME_PARTICLES = {"de", "da", "del", "della", "di", "du", "la", "le", "van", "von", "der",
                   "den", "bin", "ibn", "al", "el", "dos", "das", "y"}
# Capitalised words that are not parts of names: subheads such as "The Road Ahead".
_NOT_NAME_WORDS = {
    "the", "a", "an", "of", "and", "or", "in", "on", "at", "for", "to", "with", "by", "from",
    "as", "is", "are", "was", "how", "why", "what", "who", "when", "where", "this", "that",
    "news", "video", "photo", "photos", "image", "more", "breaking", "live", "update",
    "updates", "latest", "top", "watch", "read", "related", "share", "follow",
}
_NAME_WORD = re.compile(r"[^\W\d_]\.|[^\W\d_][^\W\d_]*(?:[-'’][^\W\d_]+)*", re.UNICODE)


def _normalise(unit: str) -> str:
    return " ".join(unit.split())


def _is_furniture_phrase(text: str) -> bool:
    """Whether a (normalised) unit is a known page-furniture phrase or label."""
    words = text.split()
    if not words:
        return False
    core = text.strip(_EDGE_PUNCT)
    if len(words) <= FURNITURE_MAX_WORDS and _FURNITURE_PHRASE_RE.fullmatch(core):
        return True
    if len(words) > FURNITURE_LABEL_MAX_WORDS:
        return False
    label = _FURNITURE_LABEL_RE.match(text.lstrip(_EDGE_PUNCT))
    if label is None:
        return False
    # Past the short limit, a unit that ends like a sentence is furniture only after a
    # "Label:" ("Photo: Reuters."), never after a bare opening ("Sign up for ... today.").
    return (
        len(words) <= FURNITURE_MAX_WORDS
        or not _ends_like_sentence(text)
        or label.group().rstrip().endswith(":")
    )


def _ends_like_sentence(text: str) -> bool:
    """Whether the text ends with . ! ? : ; (looking through closing quotes and brackets)."""
    return text.rstrip(_CLOSERS + " ").endswith(tuple(_SENTENCE_END)) or text.endswith(
        tuple(_SENTENCE_END)
    )


def _is_title_like(text: str) -> bool:
    """A short line that opens with a capital or digit and does not end like a sentence."""
    words = text.split()
    if not words or len(words) > HEADING_MAX_WORDS or _ends_like_sentence(text):
        return False
    if text.endswith((",", "-", "–", "—")):
        return False
    first = next((c for c in text if c.isalnum()), "")
    return first.isupper() or first.isdigit()


def _is_bare_name(text: str) -> bool:
    """2-4 capitalised, name-like words with no final punctuation, e.g. "Vladimir Putin"."""
    words = text.split()
    if not 2 <= len(words) <= 4 or text[-1] in _SENTENCE_END + ",":
        return False
    if words[0].lower() in _NAME_PARTICLES or words[-1].lower() in _NAME_PARTICLES:
        return False
    for word in words:
        if word.lower() in _NAME_PARTICLES:
            continue
        head, dash, rest = word.partition("-")
        if dash and rest and head.lower() in _NAME_PARTICLES:
            word = rest  # "al-Assad" is checked as "Assad"
        if word.lower() in _NOT_NAME_WORDS or not _NAME_WORD.fullmatch(word):
            return False
        if not word[0].isupper() or (len(word) > 2 and word.isupper()):
            return False  # a lowercase word, or an all-caps label such as "NATO"
    return True


def detect_roles(units: Sequence[str]) -> list[str]:
    """Label each unit as ``"content"``, ``"heading"`` or ``"furniture"``.

    The heuristics are conservative, since a unit wrongly set aside is never reordered:

    * **furniture**: a short unit (at most ``FURNITURE_MAX_WORDS`` words) that is a known page
      phrase ("Share", "Advertisement", "Related", "Comments", "Getty Images", "(AP)", ...),
      or a unit of at most ``FURNITURE_LABEL_MAX_WORDS`` words opening with a known label
      ("Read more ...", "Click here ...", "Sign up ...", "Follow us ...", "Image copyright
      ...", "Photo: ...", "Story continues below ..."); case is ignored. Also a bare-name photo
      caption: 2-4 capitalised, name-like words with no final punctuation ("Vladimir Putin"),
      unless it is the heading.
    * **heading**: at most one. The first unit that is not a furniture phrase, if it is among
      the first ``HEADING_WINDOW`` units and is title-like: at most ``HEADING_MAX_WORDS``
      words, opening with a capital letter or a digit, and not ending with ``. ! ? : ;``
      (closing quotes and brackets are looked through, so ``...issues?”`` ends with ``?``)
      nor with a comma or dash. If that unit reads like a sentence, there is no heading.
    * **content**: everything else. A text of plain sentences is all content.

    Parameters
    ----------
    units : sequence of str, length n
        The units, in document order (e.g. ``split(text).units``).

    Returns
    -------
    list of str, length n
        One of :data:`ROLES` per unit.

    Raises
    ------
    InvalidInputError
        If ``units`` is a str or holds something other than str.
    """
    if isinstance(units, str) or not all(isinstance(u, str) for u in units):
        raise InvalidInputError("units must be a sequence of str (e.g. split(text).units)")
    texts = [_normalise(u) for u in units]
    roles = ["furniture" if _is_furniture_phrase(t) else "content" for t in texts]

    heading = None
    for i, text in enumerate(texts[:HEADING_WINDOW]):
        if roles[i] == "furniture" or not text:
            continue
        if _is_title_like(text):
            heading = i
            roles[i] = "heading"
        break

    for i, text in enumerate(texts):
        if i != heading and roles[i] == "content" and text and _is_bare_name(text):
            roles[i] = "furniture"
    return roles


# --------------------------------------------------------------------------- arranging


def arrange(
    roles: Sequence[str], content_order: Sequence[int], *, furniture: str = "keep"
) -> list[int]:
    """Build the order of a whole document from an order of its content units.

    Headings come first (in their original order; :func:`detect_roles` gives at most one),
    followed by the content units in ``content_order``. Furniture units are placed according
    to ``furniture``:

    * ``"keep"``: every furniture unit stays at its original position (the slot with its own
      index), and the headings and content fill the other slots from left to right. The result
      is a permutation of ``range(len(roles))``, ready for :meth:`Document.render`.
    * ``"drop"``: furniture is left out; the result is shorter than ``roles``.
    * ``"end"``: furniture follows everything else, in its original order.

    Parameters
    ----------
    roles : sequence of str, length n
        The role of each unit, each one of :data:`ROLES`.
    content_order : sequence of int
        Indices into ``roles`` (that is, into the full unit list), covering each index whose
        role is ``"content"`` exactly once, in the chosen order.
    furniture : {"keep", "drop", "end"}, default "keep"

    Returns
    -------
    list of int
        Unit indices in output order.

    Raises
    ------
    InvalidInputError
        If a role is unknown, ``content_order`` is not an ordering of the content indices, or
        ``furniture`` is not one of :data:`FURNITURE_OPTIONS`.

    Examples
    --------
    >>> arrange(["furniture", "heading", "content", "content"], [3, 2])
    [0, 1, 3, 2]
    >>> arrange(["content", "furniture", "content"], [2, 0], furniture="drop")
    [2, 0]
    """
    if isinstance(roles, str):
        raise InvalidInputError("roles must be a sequence of role names, not a single str")
    roles = list(roles)
    bad = sorted({r for r in roles if r not in ROLES}, key=repr)
    if bad:
        raise InvalidInputError(f"every role must be one of {ROLES}; got {bad!r}")
    if furniture not in FURNITURE_OPTIONS:
        raise InvalidInputError(
            f"furniture must be one of {FURNITURE_OPTIONS}; got {furniture!r}"
        )
    content = [i for i, r in enumerate(roles) if r == "content"]
    try:
        order = [operator.index(i) for i in content_order]
    except TypeError as exc:
        raise InvalidInputError(
            f"content_order must be a sequence of integers; got {content_order!r}"
        ) from exc
    if sorted(order) != content:
        raise InvalidInputError(
            "content_order must list each content unit's index exactly once: expected a "
            f"permutation of {content}, got {order}"
        )
    headings = [i for i, r in enumerate(roles) if r == "heading"]
    extras = [i for i, r in enumerate(roles) if r == "furniture"]
    main = headings + order
    if furniture == "drop":
        return main
    if furniture == "end":
        return main + extras
    result = []
    fill = iter(main)
    for i, role in enumerate(roles):
        result.append(i if role == "furniture" else next(fill))
    return result


def units_with_roles(units: Sequence[str], roles: Sequence[str]) -> list[dict]:
    """The units of a text as the JSON outputs give them: ``{"index", "role", "text"}`` each."""
    return [{"index": i, "role": r, "text": u} for i, (u, r) in enumerate(zip(units, roles))]
