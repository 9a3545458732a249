"""The @liquid directive: Liquid's filters work, and the sandbox holds."""

import pytest

from destinations.mapping import MappingError, render, validate
from destinations.mapping.liquid import MAX_SEQUENCE_LENGTH, RENDER_DEADLINE_SECONDS

EVENT = {
    "event": "Order Completed",
    "properties": {
        "name": "running shoe",
        "price": 12.5,
        "tags": ["sale", "new"],
        "products": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
    },
    "traits": {"email": "Jane@Example.com"},
}


def liquid(template, event=EVENT):
    return render({"out": {"@liquid": template}}, event)["out"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ properties.name | upcase }}", "RUNNING SHOE"),
        ("{{ properties.name | capitalize }}", "Running shoe"),
        ("{{ traits.email | downcase }}", "jane@example.com"),
        ("{{ properties.name | replace: 'shoe', 'boot' }}", "running boot"),
        ("{{ properties.name | split: ' ' | first }}", "running"),
        ("{{ properties.tags | join: ', ' }}", "sale, new"),
        ("{{ properties.tags | size }}", "2"),
        ("{{ properties.price | times: 2 }}", "25.0"),
        ("{{ properties.price | ceil }}", "13"),
        ("{{ properties.missing | default: 'none' }}", "none"),
        ("[{{ properties.missing }}]", "[]"),
        ("{{ properties.products | map: 'sku' | join: ',' }}", "A-1,B-2"),
        ("{% for p in properties.products %}{{ p.sku }}x{{ p.qty }};{% endfor %}", "A-1x2;B-2x1;"),
        ("{% if properties.price > 10 %}big{% else %}small{% endif %}", "big"),
        ("{% assign n = event | size %}{{ n }}", "15"),
        ("{% case event %}{% when 'Order Completed' %}done{% endcase %}", "done"),
        ("", ""),
        ("plain text", "plain text"),
    ],
)
def test_liquid_renders_templates_with_its_filters_over_the_event(template, expected):
    assert liquid(template) == expected


def test_liquid_renders_items_of_an_array_path_with_the_item_as_variables():
    fields = {
        "skus": {"@arrayPath": ["$.properties.products", {"@liquid": "{{ sku | downcase }}"}]}
    }
    assert render(fields, EVENT) == {"skus": ["a-1", "b-2"]}


def test_liquid_over_a_payload_that_is_not_an_object_sees_no_variables():
    fields = {"v": {"@arrayPath": ["$.properties.tags", {"@liquid": "[{{ sale }}]"}]}}
    assert render(fields, EVENT) == {"v": ["[]", "[]"]}


def test_a_template_of_exactly_one_thousand_characters_is_accepted():
    assert liquid("x" * 1_000) == "x" * 1_000


def test_a_template_longer_than_one_thousand_characters_is_rejected_by_validate():
    with pytest.raises(MappingError, match="limited to 1000 characters, this one has 1001"):
        validate({"out": {"@liquid": "x" * 1_001}})


@pytest.mark.parametrize("tag", ["include", "render"])
def test_include_and_render_tags_are_refused(tag):
    with pytest.raises(MappingError) as caught:
        validate({"out": {"@liquid": f"{{% {tag} 'secrets' %}}"}})
    assert str(caught.value) == (
        f"fields.out.@liquid: the '{tag}' tag is disabled: templates cannot load other templates"
    )


def test_syntax_errors_are_reported_with_their_offset():
    with pytest.raises(MappingError, match=r"^fields\.out\.@liquid: .+ at 3$"):
        validate({"out": {"@liquid": "{% if %}{% endif %}"}})


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{% for i in (1..100000) %}x{% endfor %}", "loop iteration limit reached"),
        (
            "{% for i in (1..1000) %}{% for j in (1..1000) %}x{% endfor %}{% endfor %}",
            "loop iteration limit reached",
        ),
        (
            '{% assign s = "xxxxxxxxxx" %}{% for i in (1..100) %}'
            "{% assign s = s | append: s %}{% endfor %}",
            "local namespace limit reached",
        ),
        (
            "{% for i in (1..9000) %}{{ 'xxxxxxxxxxxxxxxxxxxx' }}{% endfor %}",
            "output stream limit reached",
        ),
        (
            "{{ (1..1000000000) | join: ',' }}",
            f"join: sequences are limited to {MAX_SEQUENCE_LENGTH} items",
        ),
        (
            "{% for i in (1..10000) %}{% assign x = (1..9999) | sort | reverse | join: ',' %}"
            "{% endfor %}",
            f"render took longer than {RENDER_DEADLINE_SECONDS} s",
        ),
    ],
)
def test_runaway_templates_are_stopped_with_a_mapping_error(template, problem):
    validate({"out": {"@liquid": template}})
    with pytest.raises(MappingError) as caught:
        liquid(template)
    assert caught.value.path == "fields.out.@liquid"
    assert problem in caught.value.problem


def test_a_filter_failing_on_event_data_is_a_mapping_error():
    with pytest.raises(MappingError, match="divided_by: can't divide by 0"):
        liquid(
            "{{ properties.price | divided_by: properties.zero }}",
            {"properties": {"price": 1, "zero": 0}},
        )


def test_an_unexpected_engine_failure_on_event_data_is_a_mapping_error():
    with pytest.raises(MappingError, match="OverflowError: cannot convert float infinity"):
        liquid("{{ properties.v | ceil }}", {"properties": {"v": "1e999"}})
