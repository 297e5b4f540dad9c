"""What the Python peers share: callers on threads, and the JSON line `run` reads."""
import json
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version


def measure(callers, caller):
    """`callers` threads each running `caller(start)`, which returns the lifecycles it walked
    until its time was up: (lifecycles, seconds, CPU seconds this process used meanwhile)."""
    start, cpu = time.monotonic(), time.process_time()
    with ThreadPoolExecutor(callers) as pool:
        done = sum(pool.map(lambda _: caller(start), range(callers)))
    return done, time.monotonic() - start, time.process_time() - cpu


def report(engine, package, callers, measured):
    done, elapsed, cpu = measured
    print(json.dumps({
        "engine": engine,
        "version": version(package),
        "callers": callers,
        "lifecycles": done,
        "seconds": elapsed,
        "lifecycles_per_s": done / elapsed,
        "cpu_s": cpu,
    }))
