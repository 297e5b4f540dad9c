"""The peers' table: one JSON line per engine on stdin (Linli's last), ratios and verdicts."""
import json
import sys

# Linli's lifecycles/s ÷ the peer's, at least (the performance issue's targets).
TARGETS = {"SpiffWorkflow": 20, "DBOS Transact": 5, "bpmn-engine": 50}

rows = [json.loads(line) for line in sys.stdin if line.strip()]
linli = rows[-1]
assert linli["engine"] == "linli", "Linli's own line comes last"
print(f"Same flow, PostgreSQL, {linli['callers']} concurrent callers, "
      f"{linli['seconds']:.0f} s each\n")
print("| engine | version | lifecycles/s | Linli ÷ it | target | verdict |")
print("|---|---|---:|---:|---:|---|")
print(f"| Linli | {linli['version']} | {linli['lifecycles_per_s']:.1f} | — | — | — |")
for peer in rows[:-1]:
    ratio = linli["lifecycles_per_s"] / peer["lifecycles_per_s"] if peer["lifecycles_per_s"] else float("inf")
    target = TARGETS[peer["engine"]]
    ok = ratio >= target

    print(f"| {peer['engine']} | {peer['version']} | {peer['lifecycles_per_s']:.1f} "
          f"| {ratio:.1f}× | ≥ {target}× | {'PASS' if ok else 'FAIL'} |")
if linli["errors"]:
    print(f"\nLinli's errors: {linli['errors']}")
