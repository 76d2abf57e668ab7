"""A model call's own overhead: ``orchestrator.llm.clients.call`` against the same calls in a
plain openai SDK loop (one client made once), both to the offline provider on 127.0.0.1.

    .venv/bin/python -m bench.llm_calls [--runs 5] [--calls 40]

Prints, per run, the median milliseconds of a call each way and their difference (what the
client layer adds: the SDK client, the pinned connection and its address check, reading the
answer), then the median of the runs' differences.
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Callable

import openai

from examples.llm_server import LLMServer
from orchestrator.llm import clients
from orchestrator.llm.resolution import Target

KEY = "sk-bench-key-0123456789abcdef"


def median_ms(call: Callable[[], object], calls: int) -> float:
    call()                                   # a warm-up: connections, imports, the client itself
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    server = LLMServer().start()
    try:
        target = Target(uuid.uuid4(), "offline", "openai", "m1", None, None, None, f"{server.url}/v1", None,
                        5.0, 30.0, 0)
        request = clients.Request([{"role": "user", "content": "Say hello"}], {})
        raw = openai.OpenAI(api_key=KEY, base_url=target.base_url, max_retries=0)

        def ours() -> object:
            return clients.call(target, KEY, request, "bench:1", lambda piece: None, allow_private=True)

        def direct() -> object:
            return raw.chat.completions.create(model="m1", messages=request.messages,
                                               extra_headers={"Idempotency-Key": "bench:1"})

        overheads = []
        for run in range(args.runs):
            mine, theirs = median_ms(ours, args.calls), median_ms(direct, args.calls)
            overheads.append(mine - theirs)
            print(f"run {run + 1}: clients.call {mine:.2f} ms, plain SDK loop {theirs:.2f} ms, "
                  f"overhead {mine - theirs:+.2f} ms", flush=True)
        print(f"median overhead per call over {args.runs} runs of {args.calls} calls: "
              f"{statistics.median(overheads):+.2f} ms")
    finally:
        server.close()


if __name__ == "__main__":
    main()
