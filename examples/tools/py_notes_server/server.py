"""A small MCP server in plain Python (standard library only), hosted unmodified by warden (SPEC §15).

It speaks MCP's stdio transport itself: one JSON-RPC 2.0 message per line on stdin/stdout, logs on
stderr. Methods: initialize, ping, tools/list, tools/call; notifications are read and ignored. Notes
live in memory for the life of the server process (with lifecycle "session": one MCP session).
(The `mcp` package from PyPI would do the protocol for us; this example needs nothing but python3.)
"""
import json
import sys

SERVER_INFO = {"name": "py-notes-server", "version": "1.0.0"}
PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
MAX_NOTES = 1000
MAX_TEXT = 10000

NOTE = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
    "required": ["id", "text"],
}
TOOLS = [
    {
        "name": "add_note",
        "title": "Add a note",
        "description": "Stores a short text note for this session and returns its id.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}},
            "required": ["text"],
            "additionalProperties": False,
        },
        "outputSchema": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
        "annotations": {"readOnlyHint": False, "destructiveHint": False, "openWorldHint": False},
    },
    {
        "name": "list_notes",
        "title": "List notes",
        "description": "Lists the notes of this session, oldest first.",
        "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
        "outputSchema": {
            "type": "object",
            "properties": {"notes": {"type": "array", "items": NOTE}},
            "required": ["notes"],
        },
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
    {
        "name": "search_notes",
        "title": "Search notes",
        "description": "Finds the notes of this session containing a word (case-insensitive).",
        "inputSchema": {
            "type": "object",
            "properties": {"query": {"type": "string", "minLength": 1, "maxLength": 200}},
            "required": ["query"],
            "additionalProperties": False,
        },
        "outputSchema": {
            "type": "object",
            "properties": {"notes": {"type": "array", "items": NOTE}},
            "required": ["notes"],
        },
        "annotations": {"readOnlyHint": True, "openWorldHint": False},
    },
]

notes = []


class ToolError(Exception):
    """A failure the caller should see as an isError result (not a protocol error)."""


def text_arg(args, key, limit):
    value = args.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ToolError(f"'{key}' must be a non-empty string of at most {limit} characters")
    return value


def call_tool(name, args):
    if name == "add_note":
        if len(notes) >= MAX_NOTES:
            raise ToolError(f"at most {MAX_NOTES} notes per session")
        note = {"id": len(notes) + 1, "text": text_arg(args, "text", MAX_TEXT)}
        notes.append(note)
        return {"id": note["id"]}, f"stored note {note['id']}"
    if name == "list_notes":
        return {"notes": list(notes)}, "\n".join(f"{n['id']}: {n['text']}" for n in notes) or "no notes yet"
    if name == "search_notes":
        query = text_arg(args, "query", 200).lower()
        found = [n for n in notes if query in n["text"].lower()]
        return {"notes": found}, "\n".join(f"{n['id']}: {n['text']}" for n in found) or f"no note contains '{query}'"
    raise KeyError(name)


def handle(message):
    method = message.get("method")
    params = message.get("params") or {}
    if method == "initialize":
        asked = params.get("protocolVersion")
        return {
            "protocolVersion": asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[1],
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": SERVER_INFO,
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        name = params.get("name")
        args = params.get("arguments") or {}
        if not isinstance(args, dict):
            raise ValueError("arguments must be an object")
        try:
            structured, text = call_tool(name, args)
        except KeyError:
            raise LookupError(f"unknown tool: {name}")
        except ToolError as exc:
            return {"content": [{"type": "text", "text": str(exc)}], "isError": True}
        return {"content": [{"type": "text", "text": text}], "structuredContent": structured}
    raise NotImplementedError(method)


def reply(message):
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main():
    print("py-notes-server: ready on stdio", file=sys.stderr, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            reply({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            continue
        if not isinstance(message, dict) or "method" not in message:
            continue  # a response to a request we never send, or junk: nothing to answer
        if "id" not in message:
            continue  # notifications (initialized, cancelled, …) need no answer
        try:
            reply({"jsonrpc": "2.0", "id": message["id"], "result": handle(message)})
        except NotImplementedError as exc:
            reply({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": f"method not found: {exc}"}})
        except (LookupError, ValueError) as exc:
            reply({"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32602, "message": str(exc)}})


if __name__ == "__main__":
    main()
