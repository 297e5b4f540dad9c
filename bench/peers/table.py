"""The peers' table: on stdin, one JSON line per measurement, each peer's followed by Linli's
beside it, round after round; prints medians of the rounds (each round's in brackets), Linli's
ratio to each peer taken pair by pair, and the targets' verdicts."""
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


linli = pairs[0][1]
rounds = len(pairs) // len({p["engine"] for p, _ in pairs})
print(f"Same flow, PostgreSQL, {linli['callers']} concurrent callers, "
      f"{linli['seconds']:.0f} s each, {rounds} round(s), Linli measured beside each peer\n")
print("| engine | version | lifecycles/s | Linli beside it | Linli ÷ it | target | verdict |")
print("|---|---|---:|---:|---:|---:|---|")
all_linli = [rate(l) for _, l in pairs]
print(f"| Linli | {linli['version']} | {median(all_linli):.1f} | — | — | — | — |")
for engine in dict.fromkeys(p["engine"] for p, _ in pairs):
    mine = [(p, l) for p, l in pairs if p["engine"] == engine]
    ratios = [ratio(p, l) for p, l in mine]
    target = TARGETS[engine]
    verdict = "PASS" if median(ratios) >= target else "FAIL"
    print(f"| {engine} | {mine[0][0]['version']} | {figures([rate(p) for p, _ in mine], '{:.1f}')} "
          f"| {figures([rate(l) for _, l in mine], '{:.1f}')} "
          f"| {figures(ratios, '{:.1f}×')} | ≥ {target}× | {verdict} |")
errors = {}
for _, l in pairs:
    for code, n in (l["errors"] or {}).items():
        errors[code] = errors.get(code, 0) + n
if errors:
    print(f"\nLinli's errors: {errors}")
