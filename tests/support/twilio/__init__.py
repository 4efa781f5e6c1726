"""Twilio stand-ins for tests: a simulator of Twilio's webhooks and calls, and a loopback REST API stand-in."""

from tests.support.twilio.callbacks import CallEvent, SimulatedClock
from tests.support.twilio.sids import new_account_sid, new_call_sid, new_sid
from tests.support.twilio.simulator import Conversation, DialOutcome, SimulatorError, TwilioSimulator
from tests.support.twilio.twiml import DialTarget, TwimlError, parse_twiml
from tests.support.twilio.webhooks import Attempt, ConnectionOverrides, Delivery, WebhookSender, sign

__all__ = [
    "Attempt",
    "CallEvent",
    "ConnectionOverrides",
    "Conversation",
    "Delivery",
    "DialOutcome",
    "DialTarget",
    "SimulatedClock",
    "SimulatorError",
    "TwilioSimulator",
    "TwimlError",
    "WebhookSender",
    "new_account_sid",
    "new_call_sid",
    "new_sid",
    "parse_twiml",
    "sign",
]
