"""DBOS Transact running Linli's lifecycle: one durable workflow per ticket, each action a
message it receives (`recv`, the accept step's with a 30-minute timeout as the SLA timer),
each transition a step, published with `set_event` (one key per transition); the caller
waits for each transition's event before sending the next. Everything is durable in DBOS's
PostgreSQL system database.

python dbos_peer.py DATABASE_URL SECONDS CALLERS  ->  one JSON line: lifecycles/s
of CALLERS threads, each walking lifecycles one after another.
"""
import sys
import time

from dbos import DBOS, DBOSConfig

from peer import measure, report

STEPS = ["triage", "dispatch", "accept", "start", "complete", "confirm"]
ACCEPT_WITHIN_S = 30 * 60


@DBOS.step()
def transition(state, action):
    return action


@DBOS.workflow()
def ticket():
    state = transition("new", "submit")
    DBOS.set_event(state, True)
    for action in STEPS:
        timeout = ACCEPT_WITHIN_S if action == "accept" else 7 * 86_400
        got = DBOS.recv(action, timeout_seconds=timeout)
        if got is None:  # the SLA timer: nobody accepted in time
            DBOS.set_event("escalated", True)
            return "escalated"
        state = transition(state, action)
        DBOS.set_event(state, True)
    return state


def lifecycle():
    handle = DBOS.start_workflow(ticket)
    wid = handle.get_workflow_id()
    assert DBOS.get_event(wid, "submit", timeout_seconds=60)
    for action in STEPS:
        DBOS.send(wid, {"by": action}, topic=action)
        assert DBOS.get_event(wid, action, timeout_seconds=60)
    assert handle.get_result() == "confirm"


def caller(seconds, start):
    done = 0
    while time.monotonic() - start < seconds:
        lifecycle()
        done += 1
    return done


def main(url, seconds, callers):
    config: DBOSConfig = {
        "name": "linli-peer",
        "system_database_url": url,
        "log_level": "WARNING",
        "notification_coalesce_sec": 0.001,
    }
    DBOS(config=config)
    DBOS.launch()
    measured = measure(callers, lambda start: caller(seconds, start))
    DBOS.destroy()
    report("DBOS Transact", "dbos", callers, measured)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
