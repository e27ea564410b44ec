"""Flows, whichever way Keboola stores them, read into one shape: ordered phases of tasks.

Three shapes: `keboola.flow` (phases with conditional `next` transitions, job and notification
tasks, retries), `keboola.orchestrator` (phases with `dependsOn`, numeric or string ids, phase
descriptions) and the legacy `orchestrator` (a flat task list naming `component`,
`actionParameters.config`, a phase *name* and `active`). The document of each lists phases in the
flow's own order, each with its description, its tasks (disabled ones marked, inline `configData`
summarised), retries, notifications and where the flow goes next, and names the configurations it
runs once each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from keboola_vectorizer.keboola.lineage import configuration_doc_id
from keboola_vectorizer.keboola.text import clip, parameter_words

FLOW_COMPONENTS = {"keboola.orchestrator", "keboola.flow", "orchestrator"}


@dataclass
class FlowTask:
    name: str
    component_id: str = ""
    config_id: str = ""
    enabled: bool = True
    continue_on_failure: bool = False
    retries: int | None = None
    notification: str = ""
    config_data: str = ""


@dataclass
class FlowPhase:
    id: str
    name: str
    description: str = ""
    depends_on: list[str] = field(default_factory=list)
    next: list[str] = field(default_factory=list)  # "if <condition> go to <phase>" / "then <phase>"
    tasks: list[FlowTask] = field(default_factory=list)


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _condition(node: Any, names: dict[str, dict[str, str]]) -> str:
    """A `keboola.flow` condition as words: `phase Extract status EQUALS user_error OR ...`."""
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "operator":
        operands = [_condition(o, names) for o in node.get("operands") or []]
        return f" {node.get('operator')} ".join(o for o in operands if o)
    if kind == "const":
        return str(node.get("value"))
    if kind in ("phase", "task"):
        named = names[kind].get(str(node.get(kind)), str(node.get(kind)))
        return f"{kind} {named} {node.get('value') or ''}".strip()
    if kind == "function":
        return f"{node.get('function')}({', '.join(_condition(o, names) for o in node.get('operands') or [])})"
    return ""


def _modern_task(raw: dict[str, Any]) -> FlowTask:
    inner = raw.get("task") if isinstance(raw.get("task"), dict) else {}
    retry = inner.get("retry") if isinstance(inner.get("retry"), dict) else {}
    retries = (retry.get("strategyParams") or {}).get("maxRetries") if retry else None
    notification = ""
    if inner.get("type") == "notification":
        recipients = [str(r.get("channel") or "") for r in _dicts(inner.get("recipients"))]
        notification = f"{inner.get('title') or ''}: {inner.get('message') or ''}".strip(": ")
        if recipients:
            notification += f" (by {', '.join(dict.fromkeys(recipients))})"
    config_data = inner.get("configData")
    return FlowTask(
        name=str(raw.get("name") or inner.get("componentId") or raw.get("id") or ""),
        component_id=str(inner.get("componentId") or ""), config_id=str(inner.get("configId") or ""),
        enabled=raw.get("enabled", True) is not False,
        continue_on_failure=bool(raw.get("continueOnFailure")),
        retries=int(retries) if isinstance(retries, (int, float)) else None,
        notification=notification,
        config_data=parameter_words(config_data, 300) if isinstance(config_data, dict) else "",
    )


def _legacy_task(raw: dict[str, Any]) -> FlowTask:
    params = raw.get("actionParameters") if isinstance(raw.get("actionParameters"), dict) else {}
    component = str(raw.get("component") or "")
    return FlowTask(name=component, component_id=component, config_id=str(params.get("config") or ""),
                    enabled=raw.get("active", True) is not False,
                    continue_on_failure=bool(raw.get("continueOnFailure")))


def read_flow(body: dict[str, Any]) -> list[FlowPhase]:
    """The phases of a flow body, in the flow's order, with their tasks."""
    phases: dict[str, FlowPhase] = {}
    names = {str(p.get("id")): str(p.get("name") or p.get("id")) for p in _dicts(body.get("phases"))}
    # Phase and task ids are separate namespaces (both are often "1", "2"...).
    task_names = {str(t.get("id")): str(t.get("name") or t.get("id")) for t in _dicts(body.get("tasks"))}
    condition_names = {"phase": names, "task": task_names}
    for raw in _dicts(body.get("phases")):
        phase_id = str(raw.get("id"))
        nexts = []
        for transition in _dicts(raw.get("next")):
            goto = str(transition.get("goto") or "")
            target = names.get(goto, goto) if goto else "end"
            condition = _condition(transition.get("condition"), condition_names)
            nexts.append(f"if {condition} go to {target}" if condition else f"then {target}")
        phases[phase_id] = FlowPhase(phase_id, str(raw.get("name") or phase_id),
                                     clip(str(raw.get("description") or ""), 400),
                                     [names.get(str(d), str(d)) for d in raw.get("dependsOn") or []], nexts)
    for raw in _dicts(body.get("tasks")):
        legacy = "task" not in raw and ("component" in raw or "actionParameters" in raw)
        task = _legacy_task(raw) if legacy else _modern_task(raw)
        phase_key = str(raw.get("phase")) if raw.get("phase") is not None else "(no phase)"
        if phase_key not in phases:
            # Legacy tasks name their phase; flows may send tasks to a phase they do not list.
            phases[phase_key] = FlowPhase(phase_key, phase_key)
        phases[phase_key].tasks.append(task)
    return _in_run_order(list(phases.values()))


def _in_run_order(phases: list[FlowPhase]) -> list[FlowPhase]:
    """Phases after the phases they depend on (stable otherwise), as the flow runs them."""
    by_name = {p.name: p for p in phases}
    ordered: list[FlowPhase] = []
    placed: set[str] = set()

    def place(phase: FlowPhase, trail: frozenset[str]) -> None:
        if phase.id in placed or phase.id in trail:
            return
        for name in phase.depends_on:
            if name in by_name:
                place(by_name[name], trail | {phase.id})
        placed.add(phase.id)
        ordered.append(phase)

    for phase in phases:
        place(phase, frozenset())
    return ordered


def task_label(task: FlowTask, config_names: dict[str, str], project_id: int) -> str:
    if task.notification:
        return f"notification {task.notification}"
    label = task.name
    if task.component_id and task.config_id:
        known = config_names.get(configuration_doc_id(project_id, task.component_id, task.config_id))
        label = known or (f"{task.name} configuration {task.config_id}" if task.name == task.component_id
                          else label)
    extras = []
    if not task.enabled:
        extras.append("disabled")
    if task.continue_on_failure:
        extras.append("continues on failure")
    if task.retries:
        extras.append(f"retries {task.retries} times")
    if task.config_data:
        extras.append(f"inline configuration: {task.config_data}")
    return label + (f" ({'; '.join(extras)})" if extras else "")


def flow_text(phases: list[FlowPhase], config_names: dict[str, str], project_id: int) -> str:
    out = []
    for phase in phases:
        line = f"Phase {phase.name}"
        if phase.description:
            line += f" — {phase.description}"
        tasks = ", ".join(dict.fromkeys(task_label(t, config_names, project_id) for t in phase.tasks))
        line += f": {tasks}" if tasks else ""
        if phase.depends_on:
            line += f"; after {', '.join(phase.depends_on)}"
        if phase.next:
            line += f"; {'; '.join(phase.next)}"
        out.append(line)
    return "\n".join(out)


def flow_task_ids(phases: list[FlowPhase], project_id: int) -> list[str]:
    """Configuration document ids the flow runs, once each, in flow order."""
    ids = [configuration_doc_id(project_id, t.component_id, t.config_id)
           for p in phases for t in p.tasks if t.component_id and t.config_id]
    return list(dict.fromkeys(ids))
