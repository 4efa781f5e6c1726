"""REST /v1 controllers for the control plane: thin (validate, authorise, call domain code)."""

from __future__ import annotations

from gateway.admin.agents import AgentController
from gateway.admin.api_keys import ApiKeyController
from gateway.admin.audit_logs import AuditLogController
from gateway.admin.bulk import NumberBulkController, RouteBulkController
from gateway.admin.call_control import CallControlController
from gateway.admin.calls import CallController
from gateway.admin.dispatch_rules import DispatchRuleController
from gateway.admin.flow_secrets import FlowSecretController
from gateway.admin.flows import FlowController
from gateway.admin.numbers import NumberController
from gateway.admin.projects import ProjectController
from gateway.admin.routes import RouteController
from gateway.admin.sessions import SessionController
from gateway.admin.sync import SyncController
from gateway.admin.trunks import TrunkController
from gateway.admin.webhooks import WebhookController

CONTROLLERS = [
    ProjectController,
    ApiKeyController,
    TrunkController,
    NumberBulkController,
    NumberController,
    RouteBulkController,
    RouteController,
    DispatchRuleController,
    AgentController,
    FlowController,
    FlowSecretController,
    CallController,
    AuditLogController,
    WebhookController,
    SyncController,
    CallControlController,
    SessionController,
]
