"""Property tests of mappings: any valid mapping renders JSON on any event lacking the
paths it reads."""

from unittest.mock import patch

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from destinations.mapping import liquid, render, validate

# Every path a generated mapping reads starts with "zz". No generated text holds a "z",
# so neither events nor the objects a mapping builds have such keys: each mapping
# renders against payloads that lack everything it reads.
ABSENT_PATHS = st.sampled_from(
    ["$.zz", "zz.a", "$.zz_a.b[0]", "$.zz[3].c", "zz.0.x", "$.zz.properties.name", "zz key.x"]
)
SAFE_LIQUID = st.sampled_from(
    [
        "{{ zz | upcase }}",
        "{{ zz.a | default: 'none' }}",
        "{% for x in zz %}{{ x }}{% endfor %}",
        "{% if zz %}yes{% else %}no{% endif %}",
        "plain",
    ]
)
TEXT = st.text(
    alphabet=st.characters(exclude_characters="zZ", exclude_categories=("Cs",)), max_size=8
)
KEYS = TEXT.filter(lambda key: not key.startswith("@"))
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
RAW_JSON = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=6,
)


PATH_DIRECTIVES = st.one_of(
    ABSENT_PATHS.map(lambda path: {"@path": path}),
    ABSENT_PATHS.map(lambda path: {"@template": "<{{" + path + "}}>"}),
    SAFE_LIQUID.map(lambda template: {"@liquid": template}),
)
REPLACE_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "replacement": TEXT,
        "pattern2": TEXT,
        "replacement2": TEXT,
        "global": st.booleans(),
        "ignorecase": st.booleans(),
    },
)


def is_directive(value):
    return isinstance(value, dict) and any(str(key).startswith("@") for key in value)


def directives(children):
    """Every directive, with valid options, over the mapping values ``children``."""
    nested_directives = children.filter(is_directive)
    string_or_directive = TEXT | PATH_DIRECTIVES | nested_directives
    object_or_directive = st.dictionaries(KEYS, children, max_size=3) | PATH_DIRECTIVES
    return st.one_of(
        children.map(lambda child: {"@literal": child}),
        st.builds(
            lambda key, condition, branches: {"@if": {key: condition, **branches}},
            st.sampled_from(["exists", "blank"]),
            children,
            st.dictionaries(st.sampled_from(["then", "else"]), children, min_size=1),
        ),
        st.builds(
            lambda operator, value: {"@case": {"operator": operator, "value": value}},
            st.sampled_from(["lower", "upper"]),
            string_or_directive,
        ),
        st.builds(
            lambda value, pattern, options: {
                "@replace": {"value": value, "pattern": pattern, **options}
            },
            string_or_directive,
            TEXT.filter(bool),
            REPLACE_OPTIONS,
        ),
        st.builds(
            lambda root, shape: {"@arrayPath": [root, shape]},
            ABSENT_PATHS | PATH_DIRECTIVES,
            object_or_directive,
        ),
        st.builds(
            lambda direction, objects: {"@merge": {"direction": direction, "objects": objects}},
            st.sampled_from(["left", "right"]),
            st.lists(object_or_directive, max_size=3),
        ),
        st.builds(
            lambda apply, mapping: {"@transform": {"apply": apply, "mapping": mapping}},
            object_or_directive,
            object_or_directive,
        ),
        st.builds(
            lambda value, separator, omit: {
                "@flatten": {"value": value, "separator": separator, "omitArrays": omit}
            },
            children,
            TEXT.filter(bool),
            st.booleans(),
        ),
        st.builds(
            lambda mode, value: {"@json": {"mode": mode, "value": value}},
            st.sampled_from(["encode", "decode"]),
            children,
        ),
        children.map(lambda child: {"@excludeWhenNull": child}),
        PATH_DIRECTIVES.map(lambda value: {"@hash": {"value": value, "algorithm": "sha256"}}),
        nested_directives.map(lambda path: {"@path": path}),
    )


MAPPING_VALUES = st.recursive(
    RAW_JSON | PATH_DIRECTIVES,
    lambda children: (
        directives(children)
        | st.lists(children, max_size=3)
        | st.dictionaries(KEYS, children, max_size=3)
    ),
    max_leaves=12,
)
FIELD_MAPPINGS = st.dictionaries(KEYS, MAPPING_VALUES, max_size=5)
EVENTS = st.dictionaries(st.text(alphabet="abcdefy_$.", max_size=6), RAW_JSON, max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIELD_MAPPINGS, EVENTS)
def test_a_valid_mapping_renders_json_on_any_event_lacking_its_paths(fields, event):
    validate(fields)
    # About what is rendered, not how fast: a loaded CI machine's collector pass inside a
    # template must not fail it (the deadline has tests of its own, in test_liquid.py).
    with patch.object(liquid, "RENDER_DEADLINE_SECONDS", 5.0):
        rendered = render(fields, event)
    assert isinstance(rendered, dict)
    # orjson refuses anything that is not JSON, the UNDEFINED marker included.
    assert orjson.loads(orjson.dumps(rendered)) == rendered
