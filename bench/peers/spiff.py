"""SpiffWorkflow running Linli's lifecycle (flow.bpmn), the workflow's whole state serialized
and written to PostgreSQL after every step, each write its own committed transaction.

python spiff.py DATABASE_URL SECONDS CALLERS  ->  one JSON line: lifecycles/s
of CALLERS threads, each walking lifecycles one after another.
"""
import sys
import time
import uuid
from pathlib import Path

import psycopg
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.util.task import TaskState

from peer import measure, report

STEPS = ["triage", "dispatch", "accept", "start", "complete", "confirm"]


def spec():
    # SpiffWorkflow evaluates a timer's duration as a Python expression.
    xml = (Path(__file__).parent / "flow.bpmn").read_text().replace("TIMER", '"PT30M"')
    parser = BpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml.encode()), filename="flow.bpmn")
    return parser.get_spec("linli")


def lifecycle(db, spec, serializer):
    ticket = uuid.uuid4()
    wf = BpmnWorkflow(spec)
    wf.do_engine_steps()
    db.execute(
        "INSERT INTO spiff_tickets (id, step, state) VALUES (%s, 'submit', %s)",
        (ticket, serializer.serialize_json(wf)),
    )
    for step in STEPS:
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        assert task.task_spec.name == step, (task.task_spec.name, step)
        task.data["by"] = step
        task.run()
        wf.refresh_waiting_tasks()
        wf.do_engine_steps()
        db.execute(
            "UPDATE spiff_tickets SET step = %s, state = %s WHERE id = %s",
            (step, serializer.serialize_json(wf), ticket),
        )
    assert wf.is_completed()


def caller(url, seconds, start):
    with psycopg.connect(url, autocommit=True) as db:
        s, serializer, done = spec(), BpmnWorkflowSerializer(), 0
        while time.monotonic() - start < seconds:
            lifecycle(db, s, serializer)
            done += 1
        return done


def main(url, seconds, callers):
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS spiff_tickets (id UUID PRIMARY KEY, step TEXT NOT NULL, state JSONB NOT NULL)"
        )
    measured = measure(callers, lambda start: caller(url, seconds, start))
    report("SpiffWorkflow", "SpiffWorkflow", callers, measured)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
