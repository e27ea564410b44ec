"""Orchestration shapes: `keboola.flow` (phases, conditions, notifications, retries, a disabled task),
the older `keboola.orchestrator` (numeric phases with dependsOn), the legacy `orchestrator`
component, `keboola.scheduler` targets and `keboola.variables` with a row of values."""

from __future__ import annotations

from typing import Any

from keboola_vectorizer.demo_org.stamps import Stamps

Task = tuple[str, str, str]  # (component id, configuration id, label)


def keboola_flow(stamps: Stamps, phases: list[tuple[str, list[Task]]], *, notify: str,
                 disabled: set[str] = frozenset()) -> dict[str, Any]:
    """Phases run in order; after the last job phase a condition sends failures to a notification
    phase and successes to a closing one, as conditional flows do."""
    phase_ids = [stamps.uuid() for _ in phases]
    failure_id, success_id = stamps.uuid(), stamps.uuid()
    body_phases: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for number, ((phase_name, phase_tasks), phase_id) in enumerate(zip(phases, phase_ids, strict=True)):
        last = number == len(phases) - 1
        phase: dict[str, Any] = {"id": phase_id, "name": phase_name}
        if not last:
            phase["next"] = [{"id": stamps.uuid(), "goto": phase_ids[number + 1]}]
        else:
            phase["next"] = [
                {"id": stamps.uuid(), "name": "Any job failed",
                 "condition": {"type": "operator", "operator": "OR", "operands": [
                     {"type": "operator", "operator": "EQUALS", "operands": [
                         {"type": "phase", "phase": pid, "value": "status"},
                         {"type": "const", "value": "error"}]} for pid in phase_ids]},
                 "goto": failure_id},
                {"id": stamps.uuid(), "goto": success_id}]
        body_phases.append(phase)
        for component_id, config_id, label in phase_tasks:
            task: dict[str, Any] = {"type": "job", "mode": "run", "componentId": component_id, "configId": config_id}
            if number == 0:
                task["retry"] = {"strategy": "linear", "strategyParams": {"maxRetries": 3, "delay": 60}}
            tasks.append({"id": stamps.uuid(), "name": label, "phase": phase_id, "task": task,
                          "enabled": config_id not in disabled, "continueOnFailure": False})
    body_phases.append({"id": failure_id, "name": "Notify on failure",
                        "description": "Tell the owners when any job of the run failed."})
    body_phases.append({"id": success_id, "name": "Done"})
    tasks.append({"id": stamps.uuid(), "name": "Failure e-mail", "phase": failure_id, "enabled": True,
                  "task": {"type": "notification", "title": "Pipeline failed",
                           "message": "A job in the flow failed; open the run for details.",
                           "recipients": [{"channel": "email", "address": notify}]}})
    tasks.append({"id": stamps.uuid(), "name": "Success webhook", "phase": success_id, "enabled": True,
                  "task": {"type": "notification", "title": "Pipeline finished", "message": "All phases ran.",
                           "recipients": [{"channel": "webhook", "address": "https://hooks.acme.example/data"}]}})
    return {"phases": body_phases, "tasks": tasks}


def keboola_orchestrator(stamps: Stamps, phases: list[tuple[str, list[Task]]],
                         disabled: set[str] = frozenset()) -> dict[str, Any]:
    """The pre-conditional flow shape: numeric phase ids, `dependsOn`, `continueOnFailure`."""
    ids = [stamps.rng.randrange(10_000, 99_999) for _ in phases]
    body_phases = [{"id": pid, "name": name, "dependsOn": [ids[n - 1]] if n else []}
                   for n, ((name, _), pid) in enumerate(zip(phases, ids, strict=True))]
    tasks = [{"id": stamps.rng.randrange(10_000, 99_999), "name": label, "phase": pid,
              "task": {"componentId": component_id, "configId": config_id, "mode": "run"},
              "continueOnFailure": False, "enabled": config_id not in disabled}
             for (_, phase_tasks), pid in zip(phases, ids, strict=True)
             for component_id, config_id, label in phase_tasks]
    return {"phases": body_phases, "tasks": tasks}


def legacy_orchestrator(stamps: Stamps, phases: list[tuple[str, list[Task]]]) -> dict[str, Any]:
    """The legacy `orchestrator` component: tasks name their phase and pass `config` as an action parameter."""
    return {"tasks": [{"id": stamps.rng.randrange(100_000_000, 999_999_999), "component": component_id,
                       "componentUrl": None, "action": "run", "actionParameters": {"config": config_id},
                       "timeoutMinutes": None, "active": True, "continueOnFailure": False, "phase": phase}
                      for phase, phase_tasks in phases for component_id, config_id, _ in phase_tasks]}


def schedule(cron: str, component_id: str, config_id: str, timezone: str = "Europe/Prague") -> dict[str, Any]:
    return {"schedule": {"cronTab": cron, "timezone": timezone, "state": "enabled"},
            "target": {"componentId": component_id, "configurationId": config_id, "mode": "run"}}


def variables(names: list[tuple[str, str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(definition body, values row body) of a keboola.variables configuration."""
    return ({"variables": [{"name": name, "type": "string"} for name, _ in names]},
            {"values": [{"name": name, "value": value} for name, value in names]})
