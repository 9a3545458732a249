"""Recursive-descent parser of the trigger language into a small syntax tree.

Grammar (``destinations.triggers`` explains it in prose)::

    trigger    = any_of END
    any_of     = all_of { "or" all_of }
    all_of     = operand { "and" operand }
    operand    = "(" any_of ")" | "not" "(" any_of ")" | function | "!" function | comparison
    function   = ("contains" | "match") "(" FIELD "," STRING ")"
    comparison = FIELD ("=" | "!=") (STRING | NUMBER | "true" | "false" | "null")
               | FIELD ("<" | "<=" | ">" | ">=") NUMBER
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from destinations.mapping import Getter, build_getter

from .lexer import Kind, Token, TriggerSyntaxError, tokenize
from .predicates import Operand, Predicate, comparison_test, function_test

__all__ = ["MAX_NESTING", "AllOf", "AnyOf", "Condition", "Negation", "Node", "parse_tree"]

# Bounds recursion (parse, compile and evaluation all recurse once per level) far below
# Python's limit, while allowing more nesting than anyone writes by hand.
MAX_NESTING: Final = 100

_FUNCTIONS: Final = frozenset({"contains", "match"})
_CONNECTIVES: Final = frozenset({"and", "or"})
_LITERALS: Final[dict[str, Operand]] = {"true": True, "false": False, "null": None}
_EQUALITIES: Final = frozenset({"=", "!="})


@dataclass(frozen=True, slots=True)
class Condition:
    """A leaf: one comparison or function call, with the exact text it was written as."""

    source: str
    start: int
    field: str
    lookup: Getter
    test: Predicate


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    part: Node


Node = Condition | AllOf | AnyOf | Negation


def parse_tree(text: str) -> Node:
    """Parse a non-blank trigger; raise ``TriggerSyntaxError`` if it is malformed."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = tokenize(text)
        self._index = 0
        self._depth = 0

    def parse(self) -> Node:
        node = self._any_of()
        token = self._peek()
        if token.kind is Kind.RPAREN:
            raise TriggerSyntaxError("unmatched ')'", token.start)
        if token.kind is not Kind.END:
            raise TriggerSyntaxError("expected 'and', 'or' or the end of the trigger", token.start)
        return node

    def _peek(self, ahead: int = 0) -> Token:
        return self._tokens[min(self._index + ahead, len(self._tokens) - 1)]

    def _advance(self) -> Token:
        token = self._peek()
        self._index += 1
        return token

    def _expect(self, kind: Kind, message: str) -> Token:
        token = self._peek()
        if token.kind is not kind:
            raise TriggerSyntaxError(message, token.start)
        return self._advance()

    def _at_keyword(self, keyword: str) -> bool:
        token = self._peek()
        return token.kind is Kind.WORD and token.text == keyword

    def _any_of(self) -> Node:
        parts = [self._all_of()]
        while self._at_keyword("or"):
            self._advance()
            parts.append(self._all_of())
        return _combine(AnyOf, parts)

    def _all_of(self) -> Node:
        parts = [self._operand()]
        while self._at_keyword("and"):
            self._advance()
            parts.append(self._operand())
        return _combine(AllOf, parts)

    def _operand(self) -> Node:
        token = self._peek()
        if token.kind is Kind.LPAREN:
            return self._group()
        if token.kind is Kind.BANG:
            return self._negated_function()
        if token.kind is not Kind.WORD or token.text in _CONNECTIVES:
            raise TriggerSyntaxError("expected a condition", token.start)
        following = self._peek(1)
        if token.text == "not" and following.kind is not Kind.OPERATOR:
            return self._negated_group()
        if token.text in _FUNCTIONS and following.kind is Kind.LPAREN:
            return self._function(negated=False, start=token.start)
        return self._comparison()

    def _group(self) -> Node:
        opening = self._advance()
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise TriggerSyntaxError(
                f"parentheses nest deeper than {MAX_NESTING} levels", opening.start
            )
        node = self._any_of()
        self._expect(Kind.RPAREN, "expected 'and', 'or' or ')'")
        self._depth -= 1
        return node

    def _negated_group(self) -> Node:
        self._advance()
        if self._peek().kind is not Kind.LPAREN:
            raise TriggerSyntaxError("expected '(' after 'not'", self._peek().start)
        return Negation(self._group())

    def _negated_function(self) -> Node:
        bang = self._advance()
        name = self._peek()
        if name.kind is not Kind.WORD or name.text not in _FUNCTIONS:
            raise TriggerSyntaxError("expected 'contains' or 'match' after '!'", name.start)
        return self._function(negated=True, start=bang.start)

    def _function(self, *, negated: bool, start: int) -> Node:
        name = self._advance().text
        self._expect(Kind.LPAREN, f"expected '(' after '{name}'")
        field = self._expect(Kind.WORD, f"expected a field name as the first argument of {name}()")
        self._expect(Kind.COMMA, f"expected ',' after '{field.text}'")
        argument = self._expect(
            Kind.STRING, f"expected a quoted string as the second argument of {name}()"
        )
        closing = self._expect(Kind.RPAREN, f"expected ')' to close {name}(")
        return self._condition(
            field, start, closing.end, function_test(name, negated, argument.value)
        )

    def _comparison(self) -> Node:
        field = self._advance()
        operator = self._peek()
        if operator.kind is not Kind.OPERATOR:
            raise TriggerSyntaxError(
                f"expected an operator (=, !=, <, <=, >, >=) after '{field.text}'", operator.start
            )
        self._advance()
        value = self._advance()
        test = comparison_test(operator.text, _operand_of(operator, value))
        return self._condition(field, field.start, value.end, test)

    def _condition(self, field: Token, start: int, end: int, test: Predicate) -> Condition:
        return Condition(self._text[start:end], start, field.text, build_getter(field.value), test)


def _operand_of(operator: Token, value: Token) -> Operand:
    if operator.text not in _EQUALITIES:
        if value.kind is not Kind.NUMBER:
            raise TriggerSyntaxError(f"expected a number after '{operator.text}'", value.start)
        return value.value
    if value.kind in (Kind.STRING, Kind.NUMBER):
        return value.value
    if value.kind is Kind.WORD and value.text in _LITERALS:
        return _LITERALS[value.text]
    if value.kind is Kind.WORD:
        raise TriggerSyntaxError(f"expected a quoted string after '{operator.text}'", value.start)
    raise TriggerSyntaxError(
        f"expected a value (a quoted string, a number, true, false or null) after "
        f"'{operator.text}'",
        value.start,
    )


def _combine(kind: type[AllOf] | type[AnyOf], parts: list[Node]) -> Node:
    """Return the single part, or the group of parts with same-kind groups inlined."""
    if len(parts) == 1:
        return parts[0]
    inlined: list[Node] = []
    for part in parts:
        inlined.extend(part.parts if isinstance(part, kind) else (part,))
    return kind(tuple(inlined))
