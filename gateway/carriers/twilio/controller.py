"""Twilio's webhooks over HTTP: `/carriers/twilio/voice`, `/status`, `/recording` and the gateway's action URLs.

No API key here: every request is authenticated by its `X-Twilio-Signature` (see `webhook`). Voice and action
URLs answer TwiML with 200; callbacks answer 204. Bad input after a valid signature is a 422 problem.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery
from litestar.response.base import ASGIResponse

from gateway.carriers.twilio.answers import TWIML_MEDIA_TYPE
from gateway.carriers.twilio.callbacks import record_recording, record_status
from gateway.carriers.twilio.runtime import TwilioRuntime
from gateway.carriers.twilio.voice import answer_action, answer_resume, answer_voice
from gateway.carriers.twilio.webhook import SignedWebhook, authenticate
from gateway.services import services
from gateway.web.limits import TWILIO_WEBHOOK_MAX_BODY
from gateway.web.rate_limit import webhook_failed_auth_limit


def _runtime(state: State) -> TwilioRuntime:
    return services(state).get(TwilioRuntime)


async def _signed(request: Request[Any, Any, Any], state: State) -> SignedWebhook:
    runtime = _runtime(state)
    return await authenticate(
        request,
        runtime.directory,
        public_base_url=runtime.settings.public_url,
        trusted_proxies=runtime.trusted_proxies,
    )


TWIML_RESPONSE = {
    200: ResponseSpec(
        data_container=str,
        media_type=TWIML_MEDIA_TYPE,
        description="TwiML for Twilio",
        generate_examples=False,
    )
}


def _twiml(text: str) -> ASGIResponse:
    """A TwiML answer, built as the ASGI response itself: a `Response` would be converted into one on every
    webhook (~5 us of the busiest endpoint's time)."""
    return ASGIResponse(body=text.encode(), media_type=TWIML_MEDIA_TYPE, status_code=200)


class TwilioWebhookController(Controller):
    path = "/carriers/twilio"
    tags = ["twilio"]
    security = [{}]
    request_max_body_size = TWILIO_WEBHOOK_MAX_BODY
    middleware = [webhook_failed_auth_limit]

    @post(
        "/voice",
        status_code=200,
        operation_id="twilioVoice",
        responses=TWIML_RESPONSE,
        summary="Twilio voice webhook: route the call and answer TwiML (signed by Twilio)",
    )
    async def voice(self, request: Request[Any, Any, Any]) -> ASGIResponse:
        # Only the request: the busiest webhook skips Litestar's per-parameter parsing (~10% of its time). The
        # gateway's own outbound calls carry `?call=<call id>`; Twilio's inbound calls carry nothing.
        state = request.app.state
        hook = await _signed(request, state)
        return _twiml(await answer_voice(_runtime(state), hook, request.query_params.get("call")))

    @post(
        "/ivr",
        status_code=200,
        operation_id="twilioAction",
        responses=TWIML_RESPONSE,
        summary="Action URL of the gateway's TwiML: the caller's input, a recording or a dial result",
    )
    async def action(
        self, request: Request[Any, Any, Any], state: State, turn: FromQuery[int] = 1
    ) -> ASGIResponse:
        hook = await _signed(request, state)
        return _twiml(await answer_action(_runtime(state), hook, turn))

    @post(
        "/resume",
        status_code=200,
        operation_id="twilioResume",
        responses=TWIML_RESPONSE,
        summary="Where a call goes on after call control played DTMF into it",
    )
    async def resume(self, request: Request[Any, Any, Any], state: State) -> ASGIResponse:
        hook = await _signed(request, state)
        return _twiml(await answer_resume(_runtime(state), hook))

    @post(
        "/status",
        status_code=204,
        operation_id="twilioStatus",
        summary="Twilio call status callback: folded into the call's lifecycle in any order",
    )
    async def status(
        self, request: Request[Any, Any, Any], state: State, call: FromQuery[str | None] = None
    ) -> None:
        hook = await _signed(request, state)
        await record_status(_runtime(state).store, hook, call)

    @post(
        "/recording",
        status_code=204,
        operation_id="twilioRecording",
        summary="Twilio recording status callback: one Recording per RecordingSid",
    )
    async def recording(self, request: Request[Any, Any, Any], state: State) -> None:
        hook = await _signed(request, state)
        await record_recording(_runtime(state).store, hook)
