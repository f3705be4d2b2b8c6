"""VK collector throughput against a fake VK API that answers instantly (127.0.0.1).

Shows that the collector keeps each token to its rate and still takes 100 posts per request:
one user token → ~3 requests/s and ~300 posts/s; one group token → ~20 requests/s, ~2000 posts/s.

    .venv/bin/python benchmarks/bench_vk_collector.py [--requests 30]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collectors.sources import parse_source_url  # noqa: E402
from collectors.vk import VkClient, VkClientOptions, VkWallCollector  # noqa: E402
from tests.fakes.fake_vk import FakeVk  # noqa: E402
from tests.fakes.server import serve  # noqa: E402


async def run(url: str, vk: FakeVk, kind: str, rate: float, requests: int) -> dict[str, float]:
    owner = -len(vk.walls) - 1
    vk.add_posts(owner, requests * 100, newest=time.time() - 60, step=1)
    vk.calls.clear()
    client = VkClient([(kind, f"{kind}-token", rate)], VkClientOptions(api_url=url))
    collector = VkWallCollector(client, comments=False, initial_days=365)
    posts = 0
    t0 = time.monotonic()
    async for page in collector.crawl(parse_source_url(f"https://vk.com/club{-owner}"), None):
        posts += len(page.posts)
    elapsed = time.monotonic() - t0
    await client.close()
    times = [c.at for c in vk.calls]
    # Busiest 1-second window seen by the server.
    peak = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    return {"requests": len(times), "posts": posts, "elapsed": elapsed,
            "sustained_rps": (len(times) - 1) / (times[-1] - times[0]), "posts_per_s": posts / elapsed,
            "peak_in_1s": peak, "posts_per_request": posts / len(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=30, help="wall.get requests per token kind (100 posts each)")
    args = ap.parse_args()
    vk = FakeVk()
    with serve(vk.app()) as srv:
        url = srv.url + "/method/"
        print(f"fake VK API at {url}; {args.requests} wall.get requests of 100 posts per run")
        print(f"{'token':<8}{'limit':>7}{'requests':>10}{'posts':>8}{'seconds':>9}{'req/s':>8}{'peak/1s':>9}"
              f"{'posts/req':>11}{'posts/s':>9}")
        for kind, rate in (("user", 3.0), ("group", 20.0)):
            r = asyncio.run(run(url, vk, kind, rate, args.requests))
            print(f"{kind:<8}{rate:>7g}{r['requests']:>10}{r['posts']:>8}{r['elapsed']:>9.2f}"
                  f"{r['sustained_rps']:>8.2f}{r['peak_in_1s']:>9}{r['posts_per_request']:>11.0f}"
                  f"{r['posts_per_s']:>9.0f}")


if __name__ == "__main__":
    main()
