from __future__ import annotations

import pytest

from gateway.ivr.templates import TemplateError, render, render_header, render_url, variables_in


def test_placeholders_are_replaced_and_unset_ones_are_empty() -> None:
    assert render("Hello {{ name }}, {{name}}! {{ missing }}.", {"name": "Ada"}) == "Hello Ada, Ada! ."


def test_text_without_placeholders_is_returned_as_is() -> None:
    assert render("No braces here", {"x": "y"}) == "No braces here"


@pytest.mark.parametrize(
    "template", ["{{ a + b }}", "{{ name | upper }}", "{% if x %}", "{{ user.name }}", "{{ 1x }}", "oops }}"]
)
def test_anything_but_a_plain_name_is_refused(template: str) -> None:
    with pytest.raises(TemplateError, match="only"):
        variables_in(template)


def test_variables_in_lists_names_in_order() -> None:
    assert variables_in("{{ b }} and {{ a }} and {{ b }}") == ["b", "a", "b"]


def test_values_cannot_change_a_urls_shape() -> None:
    url = render_url("https://crm.example.com/accounts/{{ id }}?x=1", {"id": "../admin?y=2#z"})
    assert url == "https://crm.example.com/accounts/..%2Fadmin%3Fy%3D2%23z?x=1"


def test_values_cannot_inject_headers() -> None:
    assert render_header("Bearer {{ token }}", {"token": "abc\r\nX-Evil: 1"}) == "Bearer abc  X-Evil: 1"


def test_values_are_not_templates_themselves() -> None:
    assert render("{{ a }}", {"a": "{{ b }}", "b": "secret"}) == "{{ b }}"
