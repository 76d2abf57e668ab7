"""A Dify app's workflow DSL (the YAML its "Export DSL" writes: ``app``, ``kind: app``,
``version``, ``workflow.graph.nodes`` and ``edges``) as a definition of ours.

Each node keeps its Dify id, title (as ``name``) and canvas position. Where we have an
equivalent it maps: ``start`` -> the ``input_schema`` (and a ``noop`` that the graph starts
from), ``llm`` -> ``llm``, ``http-request`` -> ``http_request``, ``if-else`` -> a ``noop``
whose outgoing edges carry each case's condition, ``template-transform`` -> ``transform``,
``answer`` and ``end`` -> ``transform`` (one ``end``: its outputs are the workflow's output).
A node's ``retry_config`` and ``error_strategy`` (fail branch, default value) map too. Every
other node type is refused by id and type (``Untranslatable.errors``), as is a reference
with no equivalent.
"""
from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import quote

from orchestrator.definitions.dify_refs import References, Untranslatable

MAPPED = ("start", "end", "answer", "llm", "http-request", "if-else", "template-transform")
START_TYPES = {"text-input": {"type": "string"}, "paragraph": {"type": "string"}, "select": {"type": "string"},
               "number": {"type": "number"}, "checkbox": {"type": "boolean"}, "json_object": {"type": "object"}}


class UnmappedNodes(Exception):
    """Nodes with no equivalent here: {node id: why}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(f"{len(errors)} Dify node(s) cannot be imported: "
                         + ", ".join(f"{node_id} ({why.split(':')[0]})" for node_id, why in errors.items()))
        self.errors = errors


def is_dify(document: Any) -> bool:
    return isinstance(document, dict) and isinstance(document.get("app"), dict) and "workflow" in document


def _graph(document: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if document.get("kind", "app") != "app" or document["app"].get("mode") not in ("workflow", "advanced-chat"):
        raise Untranslatable("only Dify apps of mode workflow or advanced-chat have a workflow graph")
    graph = (document.get("workflow") or {}).get("graph") or {}
    nodes, edges = graph.get("nodes"), graph.get("edges", [])
    if not isinstance(nodes, list) or not nodes or not isinstance(edges, list) \
            or not all(isinstance(item, dict) for item in nodes + edges):
        raise Untranslatable("workflow.graph must have a list of nodes and a list of edges (objects)")
    # canvas notes (type custom-note) are no part of the graph
    return [n for n in nodes if n.get("type") != "custom-note"], edges


def _input_schema(data: dict[str, Any]) -> dict[str, Any]:
    properties, required = {}, []
    for variable in data.get("variables") or []:
        kind = variable.get("type")
        if kind not in START_TYPES:
            raise Untranslatable(f"start variable {variable.get('variable')!r} of type {kind!r} has no equivalent")
        schema = dict(START_TYPES[kind], title=variable.get("label") or variable["variable"])
        if kind == "select" and variable.get("options"):
            schema["enum"] = list(variable["options"])
        if kind in ("text-input", "paragraph") and variable.get("max_length"):
            schema["maxLength"] = variable["max_length"]
        properties[variable["variable"]] = schema
        if variable.get("required"):
            required.append(variable["variable"])
    return {"type": "object", "properties": properties, "required": required}


def _llm(data: dict[str, Any], refs: References, models: dict[str, str]) -> dict[str, Any]:
    model = data.get("model") or {}
    provider, name = str(model.get("provider", "")).rsplit("/", 1)[-1], model.get("name")
    if not provider or not name:
        raise Untranslatable("an llm node needs model.provider and model.name")
    config: dict[str, Any] = {"model": models.get(f"{provider}/{name}") or models.get(name) or f"{provider}/{name}"}
    params = {k: v for k, v in (model.get("completion_params") or {}).items()
              if k in ("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "stop")}
    if params:
        config["params"] = params
    prompt = data.get("prompt_template") or []
    if isinstance(prompt, dict):        # completion mode: one text
        prompt = [{"role": "user", "text": prompt.get("text", "")}]
    messages = [{"role": m.get("role", "user"), "content": refs.template(m.get("text", ""))}
                for m in prompt if m.get("text")]
    if data.get("context", {}).get("enabled"):
        context = "{{ " + refs.expression(data["context"]["variable_selector"]) + " }}"
        messages = [{**m, "content": m["content"].replace("{{#context#}}", context)} for m in messages]
    if [m["role"] for m in messages] in (["system", "user"], ["user"]):
        config.update({"system": messages[0]["content"]} if len(messages) == 2 else {})
        config["prompt"] = messages[-1]["content"]
    elif messages:
        config["messages"] = messages
    else:
        raise Untranslatable("the llm node's prompt_template is empty")
    return config


def _pairs(text: str | None) -> dict[str, str]:
    """Dify's ``key:value`` lines (headers, params), as written."""
    pairs = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            pairs[key.strip()] = value.strip()
    return pairs


def _body(body: dict[str, Any] | None, refs: References, config: dict[str, Any]) -> None:
    kind = (body or {}).get("type", "none")
    data = (body or {}).get("data")
    items = [{"type": "text", "value": data}] if isinstance(data, str) else (data or [])
    if any(item.get("type") == "file" for item in items) or kind in ("form-data", "binary"):
        raise Untranslatable(f"a {kind} body (files) has no equivalent here")
    if kind == "json":
        text = "".join(item.get("value", "") for item in items)
        try:
            config["json"] = refs.value(json.loads(text))
        except json.JSONDecodeError:      # a reference outside a string: send the text as it renders
            config["body"] = refs.template(text)
            config["headers"].setdefault("Content-Type", "application/json")
    elif kind == "raw-text":
        config["body"] = refs.template("".join(item.get("value", "") for item in items))
    elif kind == "x-www-form-urlencoded":
        config["body"] = "&".join(f"{quote(item.get('key', ''), safe='')}={refs.query_value(item.get('value', ''))}"
                                  for item in items)
        config["headers"].setdefault("Content-Type", "application/x-www-form-urlencoded")


def _http(data: dict[str, Any], refs: References, _models: dict[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {"method": str(data.get("method", "get")).upper(), "url": refs.template(data["url"]),
                              "headers": {k: refs.template(v) for k, v in _pairs(data.get("headers")).items()}}
    params = _pairs(data.get("params"))
    if params:
        config["url"] += ("&" if "?" in config["url"] else "?") + "&".join(
            f"{quote(key, safe='')}={refs.query_value(value)}" for key, value in params.items())
    auth = data.get("authorization") or {}
    if auth.get("type") == "api-key":
        auth_config = auth.get("config") or {}
        key = refs.template(auth_config.get("api_key", ""))
        scheme = auth_config.get("type", "")
        header = auth_config.get("header") if scheme == "custom" else "Authorization"
        config["headers"][header or "Authorization"] = {"bearer": f"Bearer {key}", "basic": f"Basic {key}"}.get(
            scheme, key)
    _body(data.get("body"), refs, config)
    timeouts = [v for v in (data.get("timeout") or {}).values() if isinstance(v, (int, float)) and v > 0]
    if timeouts:
        config["timeout_seconds"] = float(max(timeouts))
    return config


def _template(data: dict[str, Any], refs: References, _models: dict[str, str]) -> dict[str, Any]:
    sets = "".join(f"{{% set {v['variable']} = {refs.expression(v['value_selector'])} %}}"
                   for v in data.get("variables") or [])
    return {"output": sets + data.get("template", "")}


def _end(data: dict[str, Any], refs: References, _models: dict[str, str]) -> dict[str, Any]:
    return {"output": {o["variable"]: "{{ " + refs.expression(o["value_selector"]) + " }}"
                       for o in data.get("outputs") or []}}


def _answer(data: dict[str, Any], refs: References, _models: dict[str, str]) -> dict[str, Any]:
    return {"output": {"answer": refs.template(data.get("answer", ""))}}


# Dify type -> (our type, the config from its data)
NODES: dict[str, tuple[str, Callable[[dict[str, Any], References, dict[str, str]], dict[str, Any]]]] = {
    "start": ("noop", lambda data, refs, models: {}),
    "if-else": ("noop", lambda data, refs, models: {}),
    "llm": ("llm", _llm),
    "http-request": ("http_request", _http),
    "template-transform": ("transform", _template),
    "end": ("transform", _end),
    "answer": ("transform", _answer),
}


def _node(node: dict[str, Any], refs: References, models: dict[str, str]) -> dict[str, Any]:
    data = node.get("data") or {}
    kind = data.get("type")
    if kind not in NODES:
        raise Untranslatable(f"Dify node type {kind!r} has no equivalent here")
    our_type, config_of = NODES[kind]
    spec: dict[str, Any] = {"id": str(node["id"]), "type": our_type, "config": config_of(data, refs, models)}
    if data.get("title"):
        spec["name"] = str(data["title"])[:255]
    position = node.get("position") or {}
    if isinstance(position.get("x"), (int, float)) and isinstance(position.get("y"), (int, float)):
        spec["position"] = {"x": position["x"], "y": position["y"]}
    retry = data.get("retry_config") or {}
    if retry.get("enabled"):
        spec["retry"] = {"max_attempts": int(retry.get("max_retries", 1)) + 1,
                         "backoff_seconds": retry.get("retry_interval", 1000) / 1000,
                         "backoff_factor": 2 if (retry.get("exponential_backoff") or {}).get("enabled") else 1}
    strategy = data.get("error_strategy")
    if strategy == "fail-branch":
        spec["on_error"] = "fail_branch"
    elif strategy == "default-value":
        spec["on_error"] = "default"
        spec["default_output"] = {v["key"]: v.get("value") for v in data.get("default_value") or []}
    return spec


def _edges(edges: list[dict[str, Any]], nodes: dict[str, dict[str, Any]], refs: References,
           errors: dict[str, str]) -> list[dict[str, Any]]:
    ours = []
    for edge in edges:
        source, handle = str(edge.get("source")), edge.get("sourceHandle") or "source"
        spec: dict[str, Any] = {"source": source, "target": str(edge.get("target"))}
        data = (nodes.get(source) or {}).get("data") or {}
        if handle == "fail-branch":
            spec["on"] = "error"
        elif data.get("type") == "if-else":
            try:
                spec["condition"] = _branch(data.get("cases") or [], handle, refs)
            except Untranslatable as exc:
                errors.setdefault(source, f"if-else: {exc}")
        ours.append(spec)
    return ours


def _branch(cases: list[dict[str, Any]], handle: str, refs: References) -> str:
    """The condition of the edge leaving an if-else by ``handle``: its case holds and no earlier
    one does (Dify takes the first case that holds); ``false``: none holds."""
    ids = [str(case.get("case_id") or case.get("id")) for case in cases]
    if handle != "false" and handle not in ids:
        raise Untranslatable(f"an edge leaves by {handle!r}, which is no case of the node")
    earlier = ids.index(handle) if handle != "false" else len(ids)
    parts = [f"not ({refs.case(case)})" for case in cases[:earlier]]
    if handle != "false":
        parts.append(f"({refs.case(cases[earlier])})")
    return " and ".join(parts) or "true"


def translate(document: dict[str, Any], models: dict[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Our definition of a Dify DSL document, and warnings. ``models`` maps a Dify model
    (``name`` or ``provider/name``) to ours (``<provider name>/<model_id>``); an unmapped one
    becomes ``<provider>/<name>`` (Dify's provider, e.g. ``openai/gpt-4o``). Raises
    ``UnmappedNodes`` naming every node without an equivalent, or ``Untranslatable``."""
    nodes, edges = _graph(document)
    by_id = {str(n.get("id")): n for n in nodes}
    refs = References({node_id: (n.get("data") or {}).get("type") for node_id, n in by_id.items()})
    errors: dict[str, str] = {}
    specs, input_schema = [], None
    for node_id, node in by_id.items():
        try:
            specs.append(_node(node, refs, models or {}))
            if node["data"]["type"] == "start":
                input_schema = _input_schema(node["data"])
        except (Untranslatable, KeyError, TypeError, AttributeError, ValueError) as exc:
            kind = (node.get("data") or {}).get("type")
            errors[node_id] = f"{kind}: {exc if isinstance(exc, Untranslatable) else f'malformed node data ({exc!r})'}"
    ours = _edges(edges, by_id, refs, errors)
    if errors:
        raise UnmappedNodes(errors)
    for spec in specs:
        if spec["id"] in refs.status_read:
            spec["config"]["ok_statuses"] = list(range(200, 600))
    app = document["app"]
    definition: dict[str, Any] = {"name": str(app.get("name") or "imported")[:255], "nodes": specs, "edges": ours}
    if app.get("description"):
        definition["description"] = str(app["description"])
    if input_schema is not None:
        definition["input_schema"] = input_schema
    ends = [str(n["id"]) for n in nodes if (n.get("data") or {}).get("type") == "end"]
    if len(ends) == 1:
        definition["output"] = "{{ nodes[" + json.dumps(ends[0]) + "].output }}"
    warnings = [f"environment variable {name} is read as the secret {name}: create it with POST /secrets"
                for name in sorted(refs.secrets)]
    return definition, warnings
