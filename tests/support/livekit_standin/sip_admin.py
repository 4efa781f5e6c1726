"""SIP trunk and dispatch-rule handlers (`sip.admin` grant), validated as LiveKit's SIPService does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, MutableSequence
from typing import TypeVar

from google.protobuf.message import Message
from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

from . import errors, ids
from .sip_match import (
    rule_listed_for_trunks,
    trunk_listed_for_numbers,
    validate_dispatch_rules,
    validate_inbound_trunks,
)
from .twirp import CallContext, Handler
from .world import World

M = TypeVar("M", bound=Message)

TRUNK_NOT_FOUND = "requested sip trunk does not exist"
RULE_NOT_FOUND = "requested sip dispatch rule does not exist"


def _copy(message: M) -> M:
    clone = type(message)()
    clone.CopyFrom(message)
    return clone


def _invalid(message: str) -> errors.TwirpFailure:
    return errors.twirp_error("invalid_argument", message)


def _check_list_update(update: proto_models.ListUpdate) -> None:
    changes = len(update.set) + len(update.add) + len(update.remove)
    if not update.clear and not changes:
        raise _invalid("unsupported list update operation")
    if update.clear and changes:
        raise _invalid("cannot clear and change the list at the same time")
    if update.set and (update.add or update.remove):
        raise _invalid("cannot set and change the list at the same time")
    if any(not v for v in [*update.set, *update.add, *update.remove]):
        raise _invalid("empty element in the list")


def _apply_list_update(target: MutableSequence[str], update: proto_models.ListUpdate) -> None:
    if update.clear:
        del target[:]
    elif update.set:
        target[:] = list(update.set)
    else:
        for value in update.remove:
            if value in target:
                target.remove(value)
        for value in update.add:
            if value not in target:
                target.append(value)


def check_hostname(value: str, field: str) -> None:
    """A trunk address must be a host name or IP, not a SIP URI."""
    if "transport=" in value:
        raise _invalid(f"{field} should not contain transport parameter")
    if any(c in value for c in "@;") or value.startswith(("sip:", "sips:")):
        raise _invalid(f"{field} should be a hostname or IP, not SIP URI")


def _check_inbound(info: proto_sip.SIPInboundTrunkInfo) -> None:
    if not (info.auth_username or info.auth_password or info.allowed_addresses or info.numbers):
        raise _invalid(
            "for security, one of the fields must be set: AuthUsername+AuthPassword, AllowedAddresses or Numbers"
        )


def _check_outbound(info: proto_sip.SIPOutboundTrunkInfo) -> None:
    if not info.numbers:
        raise _invalid("no trunk numbers specified")
    if not info.address:
        raise _invalid("no outbound address specified")
    check_hostname(info.address, "trunk address")
    check_hostname(info.from_host, "from_host")


def _page(items: Iterable[M], page: proto_models.Pagination, key: str) -> list[M]:
    ordered = sorted(items, key=lambda item: str(getattr(item, key)))
    if page.after_id:
        ordered = [item for item in ordered if str(getattr(item, key)) > page.after_id]
    return ordered[: page.limit] if page.limit else ordered


class SipAdminHandlers:
    """`livekit.SIP` trunk and dispatch-rule methods."""

    def __init__(self, world: World) -> None:
        self._world = world
        self.listed: Counter[str] = Counter()
        """Items each listing method returned (after filters and pagination), for tests to count."""

    def table(self) -> dict[str, Handler]:
        return {
            "livekit.SIP/CreateSIPInboundTrunk": self.create_inbound_trunk,
            "livekit.SIP/CreateSIPOutboundTrunk": self.create_outbound_trunk,
            "livekit.SIP/UpdateSIPInboundTrunk": self.update_inbound_trunk,
            "livekit.SIP/UpdateSIPOutboundTrunk": self.update_outbound_trunk,
            "livekit.SIP/GetSIPInboundTrunk": self.get_inbound_trunk,
            "livekit.SIP/GetSIPOutboundTrunk": self.get_outbound_trunk,
            "livekit.SIP/ListSIPInboundTrunk": self.list_inbound_trunk,
            "livekit.SIP/ListSIPOutboundTrunk": self.list_outbound_trunk,
            "livekit.SIP/DeleteSIPTrunk": self.delete_trunk,
            "livekit.SIP/CreateSIPDispatchRule": self.create_dispatch_rule,
            "livekit.SIP/UpdateSIPDispatchRule": self.update_dispatch_rule,
            "livekit.SIP/ListSIPDispatchRule": self.list_dispatch_rule,
            "livekit.SIP/DeleteSIPDispatchRule": self.delete_dispatch_rule,
        }

    def _inbound_for(self, numbers: Iterable[str]) -> list[proto_sip.SIPInboundTrunkInfo]:
        wanted = list(numbers)
        trunks = sorted(self._world.inbound_trunks.values(), key=lambda t: t.sip_trunk_id)
        return [t for t in trunks if trunk_listed_for_numbers(t, wanted)]

    async def create_inbound_trunk(
        self, request: proto_sip.CreateSIPInboundTrunkRequest, call: CallContext
    ) -> proto_sip.SIPInboundTrunkInfo:
        call.grants.ensure_sip_admin()
        if not request.HasField("trunk"):
            raise _invalid("missing trunk")
        if request.trunk.sip_trunk_id:
            raise _invalid("trunk id must not be set")
        _check_inbound(request.trunk)
        info = _copy(request.trunk)
        with self._world.lock:
            validate_inbound_trunks([*self._inbound_for(info.numbers), info])
            info.sip_trunk_id = ids.new_id(ids.SIP_TRUNK)
            self._world.inbound_trunks[info.sip_trunk_id] = info
            return _copy(info)

    async def create_outbound_trunk(
        self, request: proto_sip.CreateSIPOutboundTrunkRequest, call: CallContext
    ) -> proto_sip.SIPOutboundTrunkInfo:
        call.grants.ensure_sip_admin()
        if not request.HasField("trunk"):
            raise _invalid("missing trunk")
        if request.trunk.sip_trunk_id:
            raise _invalid("trunk id must not be set")
        _check_outbound(request.trunk)
        info = _copy(request.trunk)
        with self._world.lock:
            info.sip_trunk_id = ids.new_id(ids.SIP_TRUNK)
            self._world.outbound_trunks[info.sip_trunk_id] = info
            return _copy(info)

    async def update_inbound_trunk(
        self, request: proto_sip.UpdateSIPInboundTrunkRequest, call: CallContext
    ) -> proto_sip.SIPInboundTrunkInfo:
        call.grants.ensure_sip_admin()
        action = _check_update_request(request.sip_trunk_id, request.WhichOneof("action"), "trunk")
        with self._world.lock:
            current = self._world.inbound_trunks.get(request.sip_trunk_id)
            if current is None:
                raise errors.twirp_error("not_found", TRUNK_NOT_FOUND)
            if action == "replace":
                _check_replacement_id(request.replace.sip_trunk_id, request.sip_trunk_id, "trunk")
                updated = _copy(request.replace)
            else:
                updated = _copy(current)
                change = request.update
                for name in ("numbers", "allowed_addresses", "allowed_numbers"):
                    if change.HasField(name):
                        _check_list_update(getattr(change, name))
                        _apply_list_update(getattr(updated, name), getattr(change, name))
                for name in ("auth_username", "auth_password", "auth_realm", "name", "metadata"):
                    if change.HasField(name):
                        setattr(updated, name, getattr(change, name))
            updated.sip_trunk_id = request.sip_trunk_id
            _check_inbound(updated)
            others = [
                updated if t.sip_trunk_id == updated.sip_trunk_id else t
                for t in self._inbound_for(updated.numbers)
            ]
            validate_inbound_trunks(others)
            self._world.inbound_trunks[updated.sip_trunk_id] = updated
            return _copy(updated)

    async def update_outbound_trunk(
        self, request: proto_sip.UpdateSIPOutboundTrunkRequest, call: CallContext
    ) -> proto_sip.SIPOutboundTrunkInfo:
        call.grants.ensure_sip_admin()
        action = _check_update_request(request.sip_trunk_id, request.WhichOneof("action"), "trunk")
        with self._world.lock:
            current = self._world.outbound_trunks.get(request.sip_trunk_id)
            if current is None:
                raise errors.twirp_error("not_found", TRUNK_NOT_FOUND)
            if action == "replace":
                _check_replacement_id(request.replace.sip_trunk_id, request.sip_trunk_id, "trunk")
                updated = _copy(request.replace)
            else:
                updated = _copy(current)
                change = request.update
                if change.HasField("numbers"):
                    _check_list_update(change.numbers)
                    _apply_list_update(updated.numbers, change.numbers)
                for name in ("address", "transport", "destination_country", "auth_username", "auth_password"):
                    if change.HasField(name):
                        setattr(updated, name, getattr(change, name))
                for name in ("name", "metadata", "from_host"):
                    if change.HasField(name):
                        setattr(updated, name, getattr(change, name))
            updated.sip_trunk_id = request.sip_trunk_id
            _check_outbound(updated)
            self._world.outbound_trunks[updated.sip_trunk_id] = updated
            return _copy(updated)

    async def get_inbound_trunk(
        self, request: proto_sip.GetSIPInboundTrunkRequest, call: CallContext
    ) -> proto_sip.GetSIPInboundTrunkResponse:
        call.grants.ensure_sip_admin()
        if not request.sip_trunk_id:
            raise _invalid("trunk ID is required")
        with self._world.lock:
            trunk = self._world.inbound_trunks.get(request.sip_trunk_id)
            if trunk is None:
                raise errors.twirp_error("not_found", TRUNK_NOT_FOUND)
            return proto_sip.GetSIPInboundTrunkResponse(trunk=trunk)

    async def get_outbound_trunk(
        self, request: proto_sip.GetSIPOutboundTrunkRequest, call: CallContext
    ) -> proto_sip.GetSIPOutboundTrunkResponse:
        call.grants.ensure_sip_admin()
        if not request.sip_trunk_id:
            raise _invalid("trunk ID is required")
        with self._world.lock:
            trunk = self._world.outbound_trunks.get(request.sip_trunk_id)
            if trunk is None:
                raise errors.twirp_error("not_found", TRUNK_NOT_FOUND)
            return proto_sip.GetSIPOutboundTrunkResponse(trunk=trunk)

    async def list_inbound_trunk(
        self, request: proto_sip.ListSIPInboundTrunkRequest, call: CallContext
    ) -> proto_sip.ListSIPInboundTrunkResponse:
        call.grants.ensure_sip_admin()
        with self._world.lock:
            items = [
                t
                for t in self._inbound_for(request.numbers)
                if not request.trunk_ids or t.sip_trunk_id in request.trunk_ids
            ]
            page = _page(items, request.page, "sip_trunk_id")
            self.listed["livekit.SIP/ListSIPInboundTrunk"] += len(page)
            return proto_sip.ListSIPInboundTrunkResponse(items=page)

    async def list_outbound_trunk(
        self, request: proto_sip.ListSIPOutboundTrunkRequest, call: CallContext
    ) -> proto_sip.ListSIPOutboundTrunkResponse:
        call.grants.ensure_sip_admin()
        with self._world.lock:
            items = [
                t
                for t in self._world.outbound_trunks.values()
                if (not request.trunk_ids or t.sip_trunk_id in request.trunk_ids)
                and (not request.numbers or not t.numbers or any(n in request.numbers for n in t.numbers))
            ]
            page = _page(items, request.page, "sip_trunk_id")
            self.listed["livekit.SIP/ListSIPOutboundTrunk"] += len(page)
            return proto_sip.ListSIPOutboundTrunkResponse(items=page)

    async def delete_trunk(
        self, request: proto_sip.DeleteSIPTrunkRequest, call: CallContext
    ) -> proto_sip.SIPTrunkInfo:
        call.grants.ensure_sip_admin()
        if not request.sip_trunk_id:
            raise _invalid("trunk ID is required")
        with self._world.lock:
            self._world.inbound_trunks.pop(request.sip_trunk_id, None)
            self._world.outbound_trunks.pop(request.sip_trunk_id, None)
        return proto_sip.SIPTrunkInfo(sip_trunk_id=request.sip_trunk_id)

    def _rules_for(self, trunk_ids: Iterable[str]) -> list[proto_sip.SIPDispatchRuleInfo]:
        wanted = list(trunk_ids)
        rules = sorted(self._world.dispatch_rules.values(), key=lambda r: r.sip_dispatch_rule_id)
        return [r for r in rules if rule_listed_for_trunks(r, wanted)]

    async def create_dispatch_rule(
        self, request: proto_sip.CreateSIPDispatchRuleRequest, call: CallContext
    ) -> proto_sip.SIPDispatchRuleInfo:
        call.grants.ensure_sip_admin()
        info = _rule_from_create(request)
        with self._world.lock:
            validate_dispatch_rules([*self._rules_for(request.trunk_ids), info])
            info.sip_dispatch_rule_id = ids.new_id(ids.SIP_DISPATCH_RULE)
            self._world.dispatch_rules[info.sip_dispatch_rule_id] = info
            return _copy(info)

    async def update_dispatch_rule(
        self, request: proto_sip.UpdateSIPDispatchRuleRequest, call: CallContext
    ) -> proto_sip.SIPDispatchRuleInfo:
        call.grants.ensure_sip_admin()
        action = _check_update_request(request.sip_dispatch_rule_id, request.WhichOneof("action"), "rule")
        with self._world.lock:
            current = self._world.dispatch_rules.get(request.sip_dispatch_rule_id)
            if current is None:
                raise errors.twirp_error("not_found", RULE_NOT_FOUND)
            if action == "replace":
                _check_replacement_id(
                    request.replace.sip_dispatch_rule_id, request.sip_dispatch_rule_id, "rule"
                )
                updated = _copy(request.replace)
            else:
                updated = _copy(current)
                change = request.update
                if change.HasField("trunk_ids"):
                    _check_list_update(change.trunk_ids)
                    _apply_list_update(updated.trunk_ids, change.trunk_ids)
                if change.HasField("rule"):
                    updated.rule.CopyFrom(change.rule)
                for name in ("name", "metadata"):
                    if change.HasField(name):
                        setattr(updated, name, getattr(change, name))
                for key, value in change.attributes.items():
                    if value:
                        updated.attributes[key] = value
                    else:
                        updated.attributes.pop(key, None)
            updated.sip_dispatch_rule_id = request.sip_dispatch_rule_id
            if not updated.HasField("rule"):
                raise _invalid("missing rule")
            rules = [
                updated if r.sip_dispatch_rule_id == updated.sip_dispatch_rule_id else r
                for r in self._rules_for(updated.trunk_ids)
            ]
            validate_dispatch_rules(rules)
            self._world.dispatch_rules[updated.sip_dispatch_rule_id] = updated
            return _copy(updated)

    async def list_dispatch_rule(
        self, request: proto_sip.ListSIPDispatchRuleRequest, call: CallContext
    ) -> proto_sip.ListSIPDispatchRuleResponse:
        call.grants.ensure_sip_admin()
        with self._world.lock:
            items = [
                r
                for r in self._rules_for(request.trunk_ids)
                if not request.dispatch_rule_ids or r.sip_dispatch_rule_id in request.dispatch_rule_ids
            ]
            page = _page(items, request.page, "sip_dispatch_rule_id")
            self.listed["livekit.SIP/ListSIPDispatchRule"] += len(page)
            return proto_sip.ListSIPDispatchRuleResponse(items=page)

    async def delete_dispatch_rule(
        self, request: proto_sip.DeleteSIPDispatchRuleRequest, call: CallContext
    ) -> proto_sip.SIPDispatchRuleInfo:
        call.grants.ensure_sip_admin()
        if not request.sip_dispatch_rule_id:
            raise _invalid("dispatch rule ID is required")
        with self._world.lock:
            info = self._world.dispatch_rules.pop(request.sip_dispatch_rule_id, None)
            if info is None:
                raise errors.twirp_error("not_found", RULE_NOT_FOUND)
            return info


def _check_update_request(object_id: str, action: str | None, what: str) -> str:
    if not object_id:
        raise _invalid(f"{what} id must be set")
    if action is None:
        raise _invalid("missing or unsupported update action")
    return action


def _check_replacement_id(given: str, expected: str, what: str) -> None:
    if given and given != expected:
        raise _invalid(f"{what} id in the info must be empty or match the id in the update")


def _rule_from_create(request: proto_sip.CreateSIPDispatchRuleRequest) -> proto_sip.SIPDispatchRuleInfo:
    if request.HasField("dispatch_rule"):
        if request.dispatch_rule.sip_dispatch_rule_id:
            raise _invalid("rule id must not be set")
        info = _copy(request.dispatch_rule)
    else:
        info = proto_sip.SIPDispatchRuleInfo(
            trunk_ids=request.trunk_ids,
            inbound_numbers=request.inbound_numbers,
            hide_phone_number=request.hide_phone_number,
            name=request.name,
            metadata=request.metadata,
            attributes=request.attributes,
            room_preset=request.room_preset,
        )
        if request.HasField("rule"):
            info.rule.CopyFrom(request.rule)
        if request.HasField("room_config"):
            info.room_config.CopyFrom(request.room_config)
    if not info.HasField("rule"):
        raise _invalid("missing rule")
    return info
