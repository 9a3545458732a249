"""Tokenizer of the trigger language; ``destinations.triggers`` documents the language."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Final

from destinations.mapping import Step, make_step

__all__ = ["Kind", "Token", "TriggerSyntaxError", "tokenize"]


class TriggerSyntaxError(ValueError):
    """A trigger that does not parse; ``offset`` is the 0-based character offset."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, offset)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return f"{self.message} at {self.offset}"


class Kind(enum.Enum):
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    OPERATOR = "operator"
    BANG = "!"
    STRING = "string"
    NUMBER = "number"
    WORD = "word"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its exact source text, where it starts and its value.

    The value is the unescaped text of a STRING, the int or float of a NUMBER and the
    path steps of a WORD (a field path or a keyword such as ``and``).
    """

    kind: Kind
    text: str
    start: int
    value: Any = None

    @property
    def end(self) -> int:
        return self.start + len(self.text)


_PUNCTUATION: Final = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}
_OPERATORS: Final = ("!=", "<=", ">=", "=", "<", ">")
# Habits from other languages get a message that says what to write instead.
_MISTAKES: Final = {
    "==": "use '=' instead of '=='",
    "&&": "use 'and' instead of '&&'",
    "||": "use 'or' instead of '||'",
    "'": "strings are written in double quotes",
}
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# No array is longer than 18 digits can count, and int() refuses over 4,300 digits.
_INDEX: Final = re.compile(r"\[([0-9]{1,18})\]")
_MAX_INTEGER_DIGITS: Final = 4000
_WORD_SYMBOLS: Final = frozenset("_-$")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an END token; raise on a lexical error."""
    tokens: list[Token] = []
    position = _skip_whitespace(text, 0)
    while position < len(text):
        token = _read_token(text, position)
        tokens.append(token)
        position = _skip_whitespace(text, token.end)
    tokens.append(Token(Kind.END, "", position))
    return tokens


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _read_token(text: str, position: int) -> Token:
    char = text[position]
    if char in _PUNCTUATION:
        return Token(_PUNCTUATION[char], char, position)
    if char == '"':
        return _read_string(text, position)
    for mistake, advice in _MISTAKES.items():
        if text.startswith(mistake, position):
            raise TriggerSyntaxError(advice, position)
    for operator in _OPERATORS:
        if text.startswith(operator, position):
            return Token(Kind.OPERATOR, operator, position)
    if char == "!":
        return Token(Kind.BANG, char, position)
    if char == "-" or char.isdigit():
        return _read_number(text, position)
    if char.isalpha() or char in _WORD_SYMBOLS or char == "\\":
        return _read_word(text, position)
    raise TriggerSyntaxError(f"unexpected character {char!r}", position)


def _read_string(text: str, start: int) -> Token:
    chars: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return Token(Kind.STRING, text[start : position + 1], start, "".join(chars))
        if char == "\\":
            escaped = text[position + 1 : position + 2]
            if escaped not in ('"', "\\"):
                raise TriggerSyntaxError(
                    'only \\" and \\\\ may follow a backslash in a string', position
                )
            chars.append(escaped)
            position += 2
        else:
            chars.append(char)
            position += 1
    raise TriggerSyntaxError("unterminated string", start)


def _read_number(text: str, start: int) -> Token:
    match = _NUMBER.match(text, start)
    if match is None or _continues_word(text, match.end()):
        raise TriggerSyntaxError("invalid number", start)
    literal = match.group()
    if literal.lstrip("-").isdigit():
        if len(literal) > _MAX_INTEGER_DIGITS:
            raise TriggerSyntaxError("number has too many digits", start)
        return Token(Kind.NUMBER, literal, start, int(literal))
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise TriggerSyntaxError("number is too large", start)
    return Token(Kind.NUMBER, literal, start, value)


def _continues_word(text: str, position: int) -> bool:
    if position >= len(text):
        return False
    char = text[position]
    return char.isalnum() or char in _WORD_SYMBOLS or char in ".\\"


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char in _WORD_SYMBOLS


def _read_word(text: str, start: int) -> Token:
    """Read a field path such as ``properties.items[0].sku`` or a keyword."""
    steps: list[Step] = []
    position = start
    while True:
        key, position = _read_key(text, position)
        steps.append(make_step(key))
        while position < len(text) and text[position] == "[":
            match = _INDEX.match(text, position)
            if match is None:
                raise TriggerSyntaxError("expected an array index such as [0]", position)
            steps.append((match[1], int(match[1])))
            position = match.end()
        if position < len(text) and text[position] == ".":
            position += 1
            continue
        return Token(Kind.WORD, text[start:position], start, tuple(steps))


def _read_key(text: str, start: int) -> tuple[str, int]:
    """Read one key of a path; a backslash makes the next character part of the key."""
    chars: list[str] = []
    position = start
    while position < len(text):
        char = text[position]
        if char == "\\":
            if position + 1 == len(text):
                raise TriggerSyntaxError("expected a character after '\\'", position)
            chars.append(text[position + 1])
            position += 2
        elif _is_word_char(char):
            chars.append(char)
            position += 1
        else:
            break
    if not chars:
        raise TriggerSyntaxError("expected a field name", start)
    return "".join(chars), position
