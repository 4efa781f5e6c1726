"""`{{ secret.NAME }}`: rendered as a marker by the engine, revealed only in the request the adapter sends."""

from __future__ import annotations

import pytest

from gateway.ivr.actions import HttpRequest
from gateway.ivr.secrets import MissingSecrets, reveal, secret_names, shown
from gateway.ivr.templates import MARK_CLOSE, MARK_OPEN, render, render_header, render_url, variables_in


def _request(url: str, header: str, body: str) -> HttpRequest:
    return HttpRequest(method="POST", url=url, headers={"Authorization": header}, body={"note": body})


def test_the_engine_renders_the_name_never_a_value() -> None:
    assert variables_in("Bearer {{ secret.crm_token }} for {{ caller }}") == ["secret.crm_token", "caller"]
    header = render_header("Bearer {{ secret.crm_token }}", {"secret.crm_token": "leaked?"})
    assert "leaked" not in header
    assert shown(header) == "Bearer {{secret.crm_token}}"


def test_reveal_puts_each_value_in_place_escaped_for_where_it_goes() -> None:
    url = render_url("https://crm.example.com/a?key={{ secret.k }}&q={{ q }}", {"q": "x y"})
    request = _request(url, render_header("Bearer {{ secret.k }}", {}), render("{{ secret.k }}", {}))
    assert secret_names(request) == {"k"}
    sent = reveal(request, {"k": "a/b+c\r\nX-Evil: 1"})
    assert sent.url == "https://crm.example.com/a?key=a%2Fb%2Bc%0D%0AX-Evil%3A%201&q=x%20y"
    assert sent.headers["Authorization"] == "Bearer a/b+c  X-Evil: 1"
    assert sent.body == {"note": "a/b+c\r\nX-Evil: 1"}


def test_caller_input_cannot_name_a_secret() -> None:
    forged = f"{MARK_OPEN}k{MARK_CLOSE} and {{{{ secret.k }}}}"
    for rendered in (
        render_header("{{ said }}", {"said": forged}),
        render("{{ said }}", {"said": forged}),
        render_url("https://crm.example.com/{{ said }}", {"said": forged}),
    ):
        request = _request("https://crm.example.com/", rendered, rendered)
        assert secret_names(request) == set()
        assert "s3cr3t" not in str(reveal(request, {"k": "s3cr3t"}))


def test_a_missing_secret_is_named() -> None:
    request = _request("https://crm.example.com/", render_header("{{ secret.gone }}", {}), "")
    with pytest.raises(MissingSecrets) as missing:
        reveal(request, {})
    assert missing.value.names == ["gone"]
