"""Drives `worker-host mcp` with the official Python MCP SDK (PyPI `mcp`) over stdio, the way
a coding agent does, and prints what it saw as one JSON object for tests/mcp.rs to check.

    python3 tests/graph_support/mcp_client.py BINARY CONFIG CWD REPO
"""

import asyncio
import json
import sys

from mcp import ClientSession, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(binary: str, config: str, cwd: str, repo: str) -> dict:
    params = StdioServerParameters(command=binary, args=["mcp", "--config", config], cwd=cwd)
    report: dict = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            report["server"] = init.server_info.name
            listed = await session.list_tools()
            report["tools"] = {
                tool.name: {
                    "input_schema": tool.input_schema,
                    "read_only": bool(tool.annotations and tool.annotations.read_only_hint),
                }
                for tool in listed.tools
            }

            async def call(name: str, arguments: dict) -> dict:
                try:
                    result = await session.call_tool(name, arguments)
                except MCPError as e:
                    return {"error": {"code": e.code, "message": e.message, "data": e.data}}
                return {"result": result.structured_content, "is_error": result.is_error}

            report["callers"] = await call("callers", {"symbol": "helper", "repo": repo, "depth": 2})
            report["find"] = await call("find", {"name": "run", "repo": repo})
            report["unknown_symbol"] = await call("callers", {"symbol": "no_such_thing", "repo": repo})
            report["ambiguous"] = await call("callers", {"symbol": "run", "repo": repo})
            report["unknown_repo"] = await call("stats", {"repo": "no-such-repo"})
            report["bad_arguments"] = await call("find", {"name": 5})
            report["after_errors"] = await call("stats", {"repo": repo})
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:5]))))
