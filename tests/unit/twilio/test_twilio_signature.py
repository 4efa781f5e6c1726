"""X-Twilio-Signature checks and the reconstruction of the URL Twilio signed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
from ipaddress import ip_network

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from gateway.carriers.twilio.signature import (
    RequestOrigin,
    SignatureCheck,
    parse_trusted_proxies,
    public_url,
    verify,
)

TOKEN = "12345"
# The worked example from Twilio's security documentation (and twilio-python's own tests).
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
FORM = "application/x-www-form-urlencoded"


def check(
    url: str | list[str], params: dict[str, str], signature: str | None, token: str = TOKEN, **kw: object
) -> SignatureCheck:
    return verify(
        url_candidates=url,
        params=params,
        raw_body=b"",
        content_type=FORM,
        signature=signature,
        auth_token=token,
        **kw,  # type: ignore[arg-type]
    )


def test_twilio_documented_example_is_valid() -> None:
    result = check(DOC_URL, DOC_PARAMS, DOC_SIGNATURE)
    assert result.ok, result.reason
    assert result.url == DOC_URL


def test_missing_signature_is_named() -> None:
    assert check(DOC_URL, DOC_PARAMS, None).reason == "missing X-Twilio-Signature"
    assert not check(DOC_URL, DOC_PARAMS, "").ok


def test_mismatch_names_the_url_tried() -> None:
    result = check([DOC_URL, "https://other.example/x"], {**DOC_PARAMS, "Digits": "9"}, DOC_SIGNATURE)
    assert not result.ok
    assert result.reason == f"signature mismatch for URL {DOC_URL} (and 1 other candidate URL)"


def test_any_candidate_url_may_match() -> None:
    result = check(["https://wrong.example/myapp.php?foo=1&bar=2", DOC_URL], DOC_PARAMS, DOC_SIGNATURE)
    assert result.ok
    assert result.url == DOC_URL


def test_default_port_quirk_is_tolerated_both_ways() -> None:
    validator = RequestValidator(TOKEN)
    signed_with_port = validator.compute_signature(
        "https://gw.example.com:443/carriers/twilio/voice", DOC_PARAMS
    )
    assert check("https://gw.example.com/carriers/twilio/voice", DOC_PARAMS, signed_with_port).ok
    signed_without = validator.compute_signature("https://gw.example.com/carriers/twilio/voice", DOC_PARAMS)
    assert check("https://gw.example.com:443/carriers/twilio/voice", DOC_PARAMS, signed_without).ok


def test_repeated_parameters_are_signed_value_by_value() -> None:
    params = {"To": "+15005550006", "StatusCallbackEvent": ["ringing", "answered"]}
    expected = (
        "https://gw.example.com/cb" + "StatusCallbackEventansweredStatusCallbackEventringingTo+15005550006"
    )
    signature = base64.b64encode(hmac.new(TOKEN.encode(), expected.encode(), hashlib.sha1).digest()).decode()
    assert check("https://gw.example.com/cb", params, signature).ok  # type: ignore[arg-type]


def test_json_body_is_checked_against_body_sha256() -> None:
    body = json.dumps({"CallSid": "CA" + "0" * 32, "Event": "x"}).encode()
    url = f"https://gw.example.com/hook?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = RequestValidator(TOKEN).compute_signature(url, {})

    def check_json(raw: bytes, at: str = url) -> tuple[bool, str]:
        result = verify(
            url_candidates=at,
            params={},
            raw_body=raw,
            content_type="application/json; charset=utf-8",
            signature=signature,
            auth_token=TOKEN,
        )
        return result.ok, result.reason

    assert check_json(body) == (True, "valid")
    assert check_json(body + b" ") == (False, "bodySHA256 mismatch: the body is not the one Twilio signed")
    ok, reason = check_json(body, "https://gw.example.com/hook")
    assert not ok
    assert reason == "JSON body but no bodySHA256 query parameter in the URL"


def test_shared_key_sha256_signature() -> None:
    secret = "shared-key-secret"
    url = "https://gw.example.com/carriers/twilio/status"
    payload = url + "".join(name + DOC_PARAMS[name] for name in sorted(DOC_PARAMS))
    signature = base64.b64encode(
        hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    ).decode()
    header = "key=webhooks_sharedkey_01,algorithm=HMAC_SHA256"
    keys = {"webhooks_sharedkey_01": secret}
    assert check(url, DOC_PARAMS, signature, signature_settings=header, shared_keys=keys).ok
    assert not check(url, DOC_PARAMS, signature, signature_settings=header, shared_keys={"other": secret}).ok
    assert not check(url, DOC_PARAMS, signature, signature_settings="algorithm=HMAC_SHA256").ok
    unknown = check(
        url, DOC_PARAMS, signature, signature_settings="key=k,algorithm=HMAC_MD5", shared_keys={"k": "s"}
    )
    assert unknown.reason.startswith("unsupported signature algorithm 'HMAC_MD5'")


def test_no_auth_token_fails_closed() -> None:
    assert check(DOC_URL, DOC_PARAMS, DOC_SIGNATURE, token="").reason.startswith("no auth token configured")


# --- the URL Twilio signed -------------------------------------------------------------------------------------

PROXIES = parse_trusted_proxies("10.0.0.0/8, ::1")


def origin(**kw: object) -> RequestOrigin:
    values: dict[str, object] = {"scheme": "http", "host": "app:8000", "path": "/carriers/twilio/voice"}
    values.update(kw)
    return RequestOrigin(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base", "path", "expected"),
    [
        ("https://gw.example.com", "/carriers/twilio/voice", "https://gw.example.com/carriers/twilio/voice"),
        ("https://gw.example.com/", "/carriers/twilio/voice", "https://gw.example.com/carriers/twilio/voice"),
        (
            "https://gw.example.com/tl",
            "/carriers/twilio/voice",
            "https://gw.example.com/tl/carriers/twilio/voice",
        ),
        (
            "https://gw.example.com/tl",
            "/tl/carriers/twilio/voice",
            "https://gw.example.com/tl/carriers/twilio/voice",
        ),
        ("https://gw.example.com:8443/tl", "/x", "https://gw.example.com:8443/tl/x"),
    ],
)
def test_public_base_url_wins(base: str, path: str, expected: str) -> None:
    request = origin(path=path, peer="10.1.2.3", headers={"X-Forwarded-Host": "evil.example"})
    assert public_url(request, public_base_url=base, trusted_proxies=PROXIES) == expected


def test_query_string_is_kept_verbatim() -> None:
    request = origin(path="/carriers/twilio/gather", query="step=menu%201&n=2")
    assert public_url(request, public_base_url="https://gw.example.com") == (
        "https://gw.example.com/carriers/twilio/gather?step=menu%201&n=2"
    )


def test_forwarded_headers_from_a_trusted_proxy() -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "gw.example.com"}
    request = origin(peer="10.1.2.3", headers=headers, query="a=1")
    assert public_url(request, trusted_proxies=PROXIES) == "https://gw.example.com/carriers/twilio/voice?a=1"


def test_forwarded_headers_from_anyone_else_are_ignored() -> None:
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "gw.example.com"}
    request = origin(peer="203.0.113.9", headers=headers)
    assert public_url(request, trusted_proxies=PROXIES) == "http://app:8000/carriers/twilio/voice"
    assert public_url(origin(peer=None, headers=headers), trusted_proxies=PROXIES).startswith(
        "http://app:8000/"
    )


def test_forwarded_port_is_added_unless_default() -> None:
    headers = {"x-forwarded-proto": "https", "x-forwarded-host": "gw.example.com", "x-forwarded-port": "8443"}
    assert public_url(origin(peer="10.0.0.1", headers=headers), trusted_proxies=PROXIES).startswith(
        "https://gw.example.com:8443/"
    )
    headers["x-forwarded-port"] = "443"
    assert public_url(origin(peer="10.0.0.1", headers=headers), trusted_proxies=PROXIES).startswith(
        "https://gw.example.com/"
    )


def test_rfc7239_forwarded_header_first_element() -> None:
    headers = {"Forwarded": 'for=198.51.100.7;proto=https;host="gw.example.com", for=10.0.0.2;proto=http'}
    request = origin(peer="::1", headers=headers)
    assert public_url(request, trusted_proxies=PROXIES) == "https://gw.example.com/carriers/twilio/voice"


def test_trusted_proxies_parse_and_reject_garbage() -> None:
    assert parse_trusted_proxies("127.0.0.1/32,::1/128") == (
        ip_network("127.0.0.1/32"),
        ip_network("::1/128"),
    )
    assert parse_trusted_proxies("") == ()
    with pytest.raises(ValueError, match="'nope' is not an IP address or CIDR"):
        parse_trusted_proxies("10.0.0.0/8,nope")


# --- property: tampered requests are rejected ------------------------------------------------------------------

twilio_names = st.sampled_from(
    [
        "AccountSid",
        "ApiVersion",
        "CallSid",
        "CallStatus",
        "Called",
        "Caller",
        "Digits",
        "Direction",
        "From",
        "To",
    ]
)
names = twilio_names | st.text(string.ascii_letters, min_size=1, max_size=12)
form = st.dictionaries(names, st.text(max_size=24), max_size=8)
url_text = st.text(string.ascii_letters + string.digits + "-._~", min_size=1, max_size=12)
urls = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}.example/{path}" + (f"?q={query}" if query else ""),
    st.sampled_from(["https", "http"]),
    url_text,
    url_text,
    st.none() | url_text,
)
tokens = st.text(string.ascii_letters + string.digits, min_size=32, max_size=32)
TAMPERS = ["change_value", "add_param", "change_url", "wrong_token", "truncate_signature", "tamper_json"]


@settings(max_examples=1200, deadline=None)
@given(url=urls, params=form, token=tokens, tamper=st.sampled_from(TAMPERS), data=st.data())
def test_untampered_requests_pass_and_tampered_ones_fail(
    url: str, params: dict[str, str], token: str, tamper: str, data: st.DataObject
) -> None:
    validator = RequestValidator(token)
    if tamper == "tamper_json":
        body = json.dumps(params).encode()
        signed_url = f"{url}{'&' if '?' in url else '?'}bodySHA256={hashlib.sha256(body).hexdigest()}"
        signature = validator.compute_signature(signed_url, {})
        kwargs = {
            "url_candidates": signed_url,
            "params": {},
            "content_type": "application/json",
            "auth_token": token,
        }
        assert verify(raw_body=body, signature=signature, **kwargs).ok  # type: ignore[arg-type]
        tampered = data.draw(st.binary(min_size=1, max_size=8).map(lambda extra: body + extra))
        assert not verify(raw_body=tampered, signature=signature, **kwargs).ok  # type: ignore[arg-type]
        return

    signature = validator.compute_signature(url, params)
    assert check(url, params, signature, token).ok
    if tamper == "change_value":
        assume(params)
        name = data.draw(st.sampled_from(sorted(params)))
        new_value = data.draw(st.text(max_size=24).filter(lambda v: v != params[name]))
        assert not check(url, {**params, name: new_value}, signature, token).ok
    elif tamper == "add_param":
        name = data.draw(names.filter(lambda n: n not in params))
        assert not check(url, {**params, name: data.draw(st.text(max_size=24))}, signature, token).ok
    elif tamper == "change_url":
        changed = data.draw(
            st.sampled_from(
                [
                    url.replace(".example/", ".example/x", 1),
                    url.replace("://", "://z", 1),
                    url.replace("https://", "http://", 1) if url.startswith("https") else "https" + url[4:],
                    url + ("&" if "?" in url else "?") + "extra=1",
                ]
            )
        )
        assert not check(changed, params, signature, token).ok
    elif tamper == "wrong_token":
        other = data.draw(tokens.filter(lambda t: t != token))
        assert not check(url, params, signature, other).ok
    else:
        cut = data.draw(st.integers(1, len(signature)))
        assert not check(url, params, signature[:-cut], token).ok
