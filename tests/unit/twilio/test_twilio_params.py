"""Twilio's documented webhook parameters, read with parse_form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.calls.lifecycle import CallState
from gateway.carriers.twilio.params import (
    DialResult,
    GatherResult,
    RecordingCallback,
    RecordResult,
    StatusCallback,
    TwilioParamsError,
    VoiceRequest,
    parse_form,
)

CALL = {
    "AccountSid": "AC" + "a" * 32,
    "ApiVersion": "2010-04-01",
    "CallSid": "CA" + "b" * 32,
    "CallStatus": "ringing",
    "Called": "+14155550100",
    "Caller": "+442071838750",
    "Direction": "inbound",
    "From": "+442071838750",
    "FromCountry": "GB",
    "FromCity": "",
    "ForwardedFrom": "",
    "To": "+14155550100",
    "ToCountry": "US",
    "StirVerstat": "TN-Validation-Passed-A",
    "SomeParameterTwilioAddsIn2030": "whatever",
}


def test_voice_request_reads_documented_names_and_ignores_new_ones() -> None:
    request = parse_form(VoiceRequest, CALL)
    assert request.call_sid == CALL["CallSid"]
    assert (request.from_, request.to) == ("+442071838750", "+14155550100")
    assert request.call_status == "ringing"
    assert request.direction == "inbound"
    assert request.from_country == "GB"
    assert request.from_city is None
    assert request.forwarded_from is None
    assert request.stir_verstat == "TN-Validation-Passed-A"


def test_every_missing_required_parameter_is_named() -> None:
    form = {k: v for k, v in CALL.items() if k not in {"CallSid", "To"}}
    with pytest.raises(TwilioParamsError) as caught:
        parse_form(VoiceRequest, form)
    assert caught.value.missing == ("CallSid", "To")
    assert caught.value.field == "CallSid"
    assert (
        caught.value.detail
        == "Twilio request is missing required parameters CallSid, To (reading VoiceRequest)"
    )


def test_an_empty_required_parameter_counts_as_missing() -> None:
    with pytest.raises(TwilioParamsError, match="missing required parameter From "):
        parse_form(VoiceRequest, {**CALL, "From": ""})


def test_wrong_types_name_the_parameter() -> None:
    with pytest.raises(TwilioParamsError) as caught:
        parse_form(StatusCallback, {**CALL, "CallStatus": "completed", "SequenceNumber": "three"})
    assert caught.value.field == "SequenceNumber"
    with pytest.raises(TwilioParamsError) as unknown_status:
        parse_form(VoiceRequest, {**CALL, "CallStatus": "on-hold"})
    assert unknown_status.value.field == "CallStatus"


def test_multi_valued_forms_take_the_first_value() -> None:
    form: dict[str, str | list[str]] = {**CALL, "Digits": ["12", "34"]}
    assert parse_form(GatherResult, form).digits == "12"


def test_gather_result_with_speech() -> None:
    result = parse_form(
        GatherResult, {**CALL, "CallStatus": "in-progress", "SpeechResult": "Billing.", "Confidence": "0.913"}
    )
    assert result.speech_result == "Billing."
    assert result.confidence == pytest.approx(0.913)
    assert result.digits is None


def test_record_and_dial_results() -> None:
    recorded = parse_form(
        RecordResult,
        {
            **CALL,
            "CallStatus": "in-progress",
            "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
            "RecordingDuration": "7",
            "RecordingSid": "RE" + "c" * 32,
            "Digits": "hangup",
        },
    )
    assert (recorded.recording_duration, recorded.digits) == (7, "hangup")
    dialed = parse_form(
        DialResult,
        {**CALL, "CallStatus": "in-progress", "DialCallStatus": "completed", "DialCallDuration": "31",
         "DialBridged": "true", "DialSipResponseCode": "200"},
    )  # fmt: skip
    assert (dialed.dial_call_status, dialed.dial_call_duration, dialed.dial_bridged) == (
        "completed",
        31,
        True,
    )
    assert dialed.dial_sip_response_code == 200


def test_status_callback_becomes_a_lifecycle_update() -> None:
    callback = parse_form(
        StatusCallback,
        {
            **CALL,
            "CallStatus": "completed",
            "CallDuration": "42",
            "SequenceNumber": "3",
            "Timestamp": "Tue, 04 Mar 2025 10:00:51 +0000",
            "CallbackSource": "call-progress-events",
            "SipResponseCode": "200",
        },
    )
    update = callback.to_status_update()
    assert update.state is CallState.COMPLETED
    assert update.at == datetime(2025, 3, 4, 10, 0, 51, tzinfo=UTC)
    assert (update.sequence, update.duration, update.sip_code) == (3, 42, 200)


def test_a_603_busy_callback_is_declined() -> None:
    callback = parse_form(StatusCallback, {**CALL, "CallStatus": "busy", "SipResponseCode": "603"})
    assert callback.to_status_update().state is CallState.DECLINED
    assert callback.to_status_update().at is None


def test_a_malformed_timestamp_is_reported() -> None:
    callback = parse_form(StatusCallback, {**CALL, "CallStatus": "ringing", "Timestamp": "yesterday"})
    with pytest.raises(TwilioParamsError, match="Timestamp 'yesterday' is not an RFC 2822 date"):
        callback.to_status_update()


def test_recording_callback() -> None:
    callback = parse_form(
        RecordingCallback,
        {
            "AccountSid": CALL["AccountSid"],
            "CallSid": CALL["CallSid"],
            "RecordingSid": "RE" + "d" * 32,
            "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE2",
            "RecordingStatus": "completed",
            "RecordingDuration": "12",
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
            "RecordingStartTime": "Tue, 04 Mar 2025 10:00:20 +0000",
        },
    )
    assert (callback.recording_status, callback.recording_duration, callback.recording_channels) == (
        "completed",
        12,
        1,
    )
    assert callback.recording_source == "RecordVerb"
    with pytest.raises(TwilioParamsError) as caught:
        parse_form(RecordingCallback, {"AccountSid": CALL["AccountSid"], "CallSid": CALL["CallSid"]})
    assert caught.value.missing == ("RecordingSid", "RecordingUrl", "RecordingStatus")
