"""The peers' tables: on stdin, one JSON line per measurement, each peer's followed by Linli's
beside it, round after round, at one concurrency after another; prints for each concurrency
the medians of the rounds (each round's in brackets), how busy each process was (its CPU
seconds a second of the run: 1.0 is one core kept busy; a peer far below it was waiting,
not working), Linli's ratio to each peer taken pair by pair, and the targets' verdicts."""
import json
import sys
from statistics import median

# Linli's lifecycles/s ÷ the peer's, at least (the performance issue's targets).
TARGETS = {"SpiffWorkflow": 20, "DBOS Transact": 5, "bpmn-engine": 50}

rows = [json.loads(line) for line in sys.stdin if line.strip()]
pairs = list(zip(rows[0::2], rows[1::2]))
assert pairs and len(rows) % 2 == 0, "a peer's line, then Linli's, for each measurement"
assert all(l["engine"] == "linli" and p["engine"] != "linli" for p, l in pairs), \
    "each peer's line is followed by Linli's"


def rate(row):
    return row["lifecycles_per_s"]


def ratio(peer, linli):
    return rate(linli) / rate(peer) if rate(peer) else float("inf")


def figures(values, fmt):
    """The median, then each round's value in brackets when there were several."""
    shown = fmt.format(median(values))
    if len(values) > 1:
        shown += " (" + ", ".join(fmt.format(v) for v in values) + ")"
    return shown


def busy(row):
    """CPU seconds a second of the run, if the line says (one core kept busy: 1.0)."""
    return row["cpu_s"] / row["seconds"] if row.get("cpu_s") is not None else None


def busy_figure(rows):
    values = [b for b in map(busy, rows) if b is not None]
    return f"{median(values):.2f}" if values else "—"


for callers in dict.fromkeys(l["callers"] for _, l in pairs):
    here = [(p, l) for p, l in pairs if l["callers"] == callers]
    linli = here[0][1]
    rounds = len(here) // len({p["engine"] for p, _ in here})
    print(f"Same flow, PostgreSQL, {callers} concurrent caller(s), "
          f"{linli['seconds']:.0f} s each, {rounds} round(s), Linli measured beside each peer\n")
    print("| engine | version | lifecycles/s | busy (cores) | Linli beside it | Linli ÷ it | target | verdict |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    all_linli = [rate(l) for _, l in here]
    print(f"| Linli | {linli['version']} | {median(all_linli):.1f} | "
          f"{busy_figure([l for _, l in here])} | — | — | — | — |")
    for engine in dict.fromkeys(p["engine"] for p, _ in here):
        mine = [(p, l) for p, l in here if p["engine"] == engine]
        ratios = [ratio(p, l) for p, l in mine]
        target = TARGETS[engine]
        verdict = "PASS" if median(ratios) >= target else "FAIL"
        print(f"| {engine} | {mine[0][0]['version']} | {figures([rate(p) for p, _ in mine], '{:.1f}')} "
              f"| {busy_figure([p for p, _ in mine])} "
              f"| {figures([rate(l) for _, l in mine], '{:.1f}')} "
              f"| {figures(ratios, '{:.1f}×')} | ≥ {target}× | {verdict} |")
    print()
errors = {}
for _, l in pairs:
    for code, n in (l["errors"] or {}).items():
        errors[code] = errors.get(code, 0) + n
if errors:
    print(f"\nLinli's errors: {errors}")
