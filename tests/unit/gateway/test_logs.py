"""Log lines are JSON, carry the request id, and never show a phone number, digits or a secret."""

from __future__ import annotations

import json
import logging

from gateway.logs import DRIVER_LOGGERS, JsonFormatter, configure_logging, request_id_var


def _format(message: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("trunkline.test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    result: dict[str, object] = json.loads(JsonFormatter().format(record))
    return result


def test_numbers_in_messages_and_fields_are_masked() -> None:
    token = request_id_var.set("req-1")
    try:
        entry = _format("call from %s", "+14155550123", to="+442079460018", digits="1234", auth_token="tok")
    finally:
        request_id_var.reset(token)
    text = json.dumps(entry)
    for secret in ("4155550123", "2079460018", "1234", 'tok"'):
        assert secret not in text
    assert entry["request_id"] == "req-1"
    assert str(entry["msg"]).endswith("23")
    assert entry["digits"] == "***"


def test_driver_loggers_stay_quiet_even_when_debugging() -> None:
    configure_logging("DEBUG")
    try:
        for name in DRIVER_LOGGERS:
            assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
    finally:
        configure_logging("WARNING")


def test_addresses_are_not_mistaken_for_numbers() -> None:
    entry = _format("listening on http://%s:8000", "127.0.0.1", color_message="x")
    assert entry["msg"] == "listening on http://127.0.0.1:8000"
    assert "color_message" not in entry
