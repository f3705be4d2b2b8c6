"""Cleaning of social-media text (VK, Telegram, portal appeals).

``clean_text`` turns a raw post into plain Russian text that the tokenizer,
the lemmatizer and the NER model can work with. The rules, in order:

1. HTML entities are unescaped (twice, for ``&amp;quot;``) and tags are
   replaced by a space (``<br>`` and ``<p>`` become a line break first).
2. URLs (``http://``, ``www.``, bare ``vk.com/...``, ``t.me/...``) and e-mail
   addresses are removed.
3. VK mentions ``[club123|Name]``, ``[id1|Имя]`` and VK links
   ``[https://vk.com/x|text]`` become their visible text ``Name``.
4. ``@username`` handles are removed (they are Latin logins, not words); the
   ``@community`` suffix of VK hashtags (``#новости@kemerovo``) goes with it.
5. Hashtags become words: ``#ЖКХ_Кемерово`` -> ``ЖКХ Кемерово``,
   ``#ДорогиКузбасса`` -> ``Дороги Кузбасса``.
6. Emoji, pictographs, variation selectors, zero-width and control
   characters become a space (soft hyphens and combining stress marks vanish).
7. Letters repeated three or more times are collapsed to one
   case-insensitively (``Ооочень`` -> ``Очень``), real doubles (``ванна``, ``Россия``) stay. Only
   Cyrillic and lower-case Latin letters are collapsed, so Roman numerals
   (``XXX``, ``III``) survive; ``!!!``/``???`` become one mark.
8. Latin look-alike letters inside a Cyrillic word are replaced by their
   Cyrillic twins (``мусoр`` with a Latin ``o`` -> ``мусор``) when every Latin
   letter in the word has a twin; ``Wi-Fi`` and ``ТЦ Mega`` are left alone.
9. Whitespace runs become one space; paragraph breaks become a single
   ``\\n``; the result is stripped.

``ё`` is kept in the cleaned text (it is what users see). Matching code
(lemmas, stop words, the gazetteer) folds ``ё`` to ``е`` itself, see
:func:`fold_yo`.

Every rule is guarded by a cheap substring or character-class test that finds
every text the rule could change, so the common case (an appeal with no markup,
no repeats, no odd spaces) costs a handful of fast scans and no rewrites;
``tests/test_nlp_fast_paths.py`` checks the guarded chain against the plain one.
"""

from __future__ import annotations

import html
import re

__all__ = ["clean_text", "fold_yo", "fix_lookalikes"]

_BREAK_TAG = re.compile(r"<\s*(?:br|/p|p|/div|li)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[a-zA-Z/!][^<>]{0,2000}>")
_URL = re.compile(
    r"(?:(?:https?|ftp)://|www\.)[^\s<>\"«»\]|]+"
    r"|\b(?:vk\.(?:com|ru|cc|me)|t\.me|telegram\.me|ok\.ru|youtu\.be|clck\.ru|goo\.gl|bit\.ly)/[^\s<>\"«»\]|]*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_VK_MENTION = re.compile(r"\[(?:[^\[\]|\n]{1,200})\|([^\[\]\n]{0,300})\]")
_HASHTAG_COMMUNITY = re.compile(r"(#[^\W_]\w*)@\w+")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_.]{2,64}")
_HASHTAG = re.compile(r"#([^\W_][\w]*)")
_CAMEL = re.compile(r"(?<=[a-zа-яё])(?=[A-ZА-ЯЁ])")
_REPEAT = re.compile(r"(?i:([а-яё])\1{2,})|([a-z])\2{2,}")
_REPEAT_MARK = re.compile(r"([!?])[!?]+")
_LATIN = re.compile(r"[A-Za-z]")
_MIXED_WORD = re.compile(
    r"[A-Za-zА-Яа-яЁё]*(?:[А-Яа-яЁё][A-Za-z]|[A-Za-z][А-Яа-яЁё])[A-Za-zА-Яа-яЁё]*"
)
_SPACES = re.compile(r"[^\S\n]+")
# Exact pre-tests: when they find nothing the substitution they guard is a no-op.
# Any match of _REPEAT is a character followed by two case-insensitive copies of it.
_REPEAT_TEST = re.compile(r"(.)\1\1", re.DOTALL | re.IGNORECASE)
# A Cyrillic letter next to a Latin one: every _MIXED_WORD match has such a pair.
_MIXED_TEST = re.compile(r"[А-Яа-яЁё][A-Za-z]|[A-Za-z][А-Яа-яЁё]")
# Whitespace other than a plain space or a line break (with "  " this finds every
# _SPACES match that is not already a single space).
_ODD_SPACE = re.compile(r"[^\S \n]")
_NEWLINES = re.compile(r"\s*\n\s*")

# Emoji and pictographs, dingbats, arrows/technical symbols used as emoji,
# regional indicators, variation selectors, ZWJ/ZWNJ/ZWSP, BOM, object
# replacement, private use, C0/C1 control characters (tab and newline are
# handled as whitespace).
_JUNK = re.compile(
    "["
    "\U0001F000-\U0001FAFF"
    "\U0001FC00-\U0001FFFF"
    "\u2190-\u21FF"
    "\u2300-\u23FF"
    "\u2460-\u24FF"
    "\u25A0-\u27BF"
    "\u2900-\u297F"
    "\u2B00-\u2BFF"
    "\u3030\u303D\u3297\u3299"
    "\uFE00-\uFE0F"
    "\u200B-\u200F\u2028-\u202F\u2060-\u206F\uFEFF"
    "\uFFF0-\uFFFF"
    "\uE000-\uF8FF"
    "\U000E0000-\U000E007F"
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "]+"
)
_JUNK_TEST = re.compile(
    "[\U0001F000-\U0010FFFF\u2190-\u2BFF\u3030\u303D\u3297\u3299\uFE00-\uFE0F"
    "\u200B-\u200F\u2028-\u202F\u2060-\u206F\uFEFF\uE000-\uF8FF\uFFF0-\uFFFF"
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)
# Characters deleted outright: soft hyphen, combining acute/grave (stress marks).
_DELETE = {0x00AD: None, 0x0301: None, 0x0300: None}
# Non-breaking and typographic spaces to a plain space, tab to space.
_SPACE_MAP = {c: " " for c in (0x00A0, 0x2007, 0x202F, 0x2009, 0x200A, 0x2002, 0x2003, 0x3000, 0x09)}
_TRANSLATE = {**_DELETE, **_SPACE_MAP, 0x0D: "\n"}
# str.translate with a dict walks the text char by char in Python-object space;
# a class search is ~10 times cheaper and almost never finds anything.
_TRANSLATE_TEST = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_TRANSLATE)) + "]")
# One scan for the common case: a text without junk, characters to translate,
# odd whitespace or Latin letters needs none of those four passes.
_ODD_SPACES = "".join(c for c in map(chr, range(0x110000)) if c.isspace() and c not in " \n")
_SPECIAL_TEST = re.compile(
    _JUNK_TEST.pattern[:-1]
    + "".join(re.escape(chr(c)) for c in sorted(_TRANSLATE))
    + re.escape(_ODD_SPACES)
    + "A-Za-z]"
)

# Latin letters that look exactly like a Cyrillic letter.
_LOOKALIKES = str.maketrans(
    "aceopxyk" "ACEHKMOPTXYB",
    "асеорхук" "АСЕНКМОРТХУВ",
)
_LOOKALIKE_LATIN = frozenset("aceopxykACEHKMOPTXYB")


def fold_yo(text: str) -> str:
    """Replace ``ё``/``Ё`` by ``е``/``Е`` (for matching, not for display)."""
    # two C scans instead of str.translate, which looks every character up in a dict
    if "ё" in text:
        text = text.replace("ё", "е")
    if "Ё" in text:
        text = text.replace("Ё", "Е")
    return text


def _fix_word(match: re.Match[str]) -> str:
    word = match.group(0)
    latin = {ch for ch in word if "A" <= ch <= "z"}
    if latin <= _LOOKALIKE_LATIN:
        return word.translate(_LOOKALIKES)
    return word


def fix_lookalikes(text: str) -> str:
    """Replace Latin look-alikes inside Cyrillic words (``мусoр`` -> ``мусор``)."""
    if not _LATIN.search(text) or not _MIXED_TEST.search(text):
        return text
    return _MIXED_WORD.sub(_fix_word, text)


def _first_letter(match: re.Match[str]) -> str:
    return match.group(1) or match.group(2)


def _mention(match: re.Match[str]) -> str:
    # leading space: "[id1|А][id2|Б]" must not glue into one word
    return " " + match.group(1)


def _hashtag(match: re.Match[str]) -> str:
    words = match.group(1).replace("_", " ")
    # leading space: "#пары#веселье" must not glue into one word
    return " " + _CAMEL.sub(" ", words)


def clean_text(text: str | None) -> str:
    """Return ``text`` cleaned of markup, links, mentions, emoji and noise.

    ``None`` and non-string input give ``""``; the function never raises on
    odd input.
    """
    if not text:
        return ""
    if not isinstance(text, str):
        text = str(text)
    if "&" in text:
        text = html.unescape(html.unescape(text))
    if "<" in text:
        text = _BREAK_TAG.sub("\n", text)
        text = _TAG.sub(" ", text)
    if "/" in text or "www" in text or "WWW" in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" ", text)
        text = _HASHTAG_COMMUNITY.sub(r"\1", text)
        text = _HANDLE.sub(" ", text)
    if "|" in text:
        text = _VK_MENTION.sub(_mention, text)
    if "#" in text:
        text = _HASHTAG.sub(_hashtag, text)
    special = _SPECIAL_TEST.search(text) is not None
    if special:
        if _JUNK_TEST.search(text):
            text = _JUNK.sub(" ", text)
        if _TRANSLATE_TEST.search(text):
            text = text.translate(_TRANSLATE)
    if _REPEAT_TEST.search(text):
        text = _REPEAT.sub(_first_letter, text)
    if "!" in text or "?" in text:
        text = _REPEAT_MARK.sub(r"\1", text)
    if special:
        text = fix_lookalikes(text)
    if "  " in text or (special and _ODD_SPACE.search(text)):
        text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = _NEWLINES.sub("\n", text)
    return text.strip()
