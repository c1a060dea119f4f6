"""A Python `websockets` echo server for one connection.

Prints its port, echoes every message until the client closes, then prints
the client's close code and reason as JSON and exits.
"""

import asyncio
import json

import websockets


async def main() -> None:
    done = asyncio.get_running_loop().create_future()

    async def echo(ws, _path=None):
        try:
            async for message in ws:
                await ws.send(message)
        except websockets.ConnectionClosed:
            pass  # Any close code but 1000 and 1001 ends the loop this way.
        finally:
            done.set_result({"code": ws.close_code, "reason": ws.close_reason})

    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        print(json.dumps(await asyncio.wait_for(done, 20)), flush=True)


asyncio.run(main())
