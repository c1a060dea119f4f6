"""A Python `websockets` client: echo round trips, Pings, then a Close.

Usage: python_client.py URL. Prints one JSON line of what it saw.
"""

import asyncio
import json
import sys

import websockets


async def main(url: str) -> None:
    seen = {}
    async with websockets.connect(url, max_size=None, subprotocols=["chat"]) as ws:
        seen["protocol"] = ws.subprotocol
        await ws.send("héllo")
        seen["text"] = await ws.recv()
        big = bytes(i % 251 for i in range(1_000_000))
        await ws.send(big)
        seen["binary_ok"] = (await ws.recv()) == big
        pongs = [await ws.ping(f"p{i}".encode()) for i in range(10)]
        await asyncio.wait_for(asyncio.gather(*pongs), 5)
        seen["pongs"] = len(pongs)
        await ws.close(4001, "from python")
        seen["close_code"] = ws.close_code
    print(json.dumps(seen), flush=True)


asyncio.run(main(sys.argv[1]))
