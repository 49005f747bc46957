#!/usr/bin/env python3
"""A TCP proxy on loopback that delays every chunk by DELAY_MS in each direction (so a
round trip costs 2 x DELAY_MS), for benchmarks of sealift behind a slow link.

    bench/latency_proxy.py LISTEN_PORT TARGET_HOST:PORT [DELAY_MS]

Prints the port it listens on, then serves until killed. Only 127.0.0.1 is used."""
import asyncio
import sys
import time


async def pipe(reader, writer, delay):
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except OSError:
            pass

    sender = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(256 * 1024)
            queue.put_nowait((time.monotonic() + delay, data or None))
            if not data:
                break
    except OSError:
        queue.put_nowait((0, None))
    await sender


async def main():
    listen, target = int(sys.argv[1]), sys.argv[2]
    delay = (float(sys.argv[3]) if len(sys.argv) > 3 else 10.0) / 1000.0
    host, port = target.rsplit(":", 1)
    assert host in ("127.0.0.1", "localhost"), "loopback only"

    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection(host, int(port))
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, sw, delay), pipe(sr, cw, delay), return_exceptions=True)
        sw.close()
        cw.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
