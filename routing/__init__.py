"""Trunkline's routing engine: pure code (no I/O) from an incoming call and a project's routes to a decision.

- `routing.model`: the stored route shape, `RouteQuery`, `Decision` (msgspec Structs).
- `routing.numbers`: `normalize`, `InvalidNumber`, `is_withheld`, `mask`.
- `routing.schedule`: `is_open`, `never_opens`.
- `routing.resolve`: `resolve(table, call)`, `explain(table, call)`; `routing.index`: `build_index` for speed.
- `routing.validate`: `validate(table, known_flows, known_agents)` when routes are saved.
- `routing.compile`: `compile_dispatch(...)` into LiveKit SIP dispatch rules.
"""
