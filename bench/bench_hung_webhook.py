"""Page delay with a hung webhook: how long after an evaluation starts the page reaches
Alertmanager (real, on loopback) and the log, with a webhook receiver that accepts the
connection and never answers, against the same evaluation with no webhook configured.

The webhook has the default client timeout (5 s) and a 30 s retry deadline. Prints both
delays, how long the evaluation itself took, and their ratio against the target.

    python bench/bench_hung_webhook.py
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import alerts.cycle as cycle
from monitoring.app.config import load_config
from tests.alerts.receiver import Receiver
from tests.reliability.helpers import HungReceiver, alertmanager_config, alerts_config
from tests.reliability.test_hung_webhook import (
    RULE,
    _LogTimes,
    _store,
    _wait_for_am,
)
from tests.servers import AlertmanagerServer

WEBHOOK_TIMEOUT_S = 5.0
WEBHOOK_DEADLINE_S = 30.0
# The hung webhook may cost the page at most this factor (both are fractions of a
# second when the channels are independent; ~30 s / 0.05 s when they are not).
RATIO_TARGET = 10.0


def _config(tmp: Path, am_url: str, hook_url: str | None) -> Path:
    channels: dict = {"log": True, "alertmanager": {"url": am_url, "timeout": 2}}
    if hook_url:
        channels["webhook"] = {"url": hook_url, "timeout": WEBHOOK_TIMEOUT_S,
                               "deadline": WEBHOOK_DEADLINE_S}
    return alerts_config(tmp, [RULE], channels)


def measure(hung: bool) -> tuple[float, float, float]:
    """(seconds to Alertmanager, seconds to the log, seconds the evaluation took)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-hung-"))
    with HungReceiver() as receiver, Receiver() as hook, \
            AlertmanagerServer(alertmanager_config(hook.url + "/am")) as am:
        config = load_config(_config(tmp, am.url, receiver.url + "/hook" if hung else None))
        now = time.time()
        store = _store(tmp, now)
        log = _LogTimes()
        logging.getLogger("ionmon.alerts").addHandler(log)
        logging.getLogger("ionmon.alerts").setLevel(logging.INFO)
        # As serve's evaluate job calls it: with the process's dispatcher when there is one.
        opener = getattr(cycle, "open_dispatcher", None)
        dispatcher = opener(config) if opener else None
        kwargs = {"dispatcher": dispatcher} if dispatcher else {}
        took: list[float] = []

        def evaluate() -> None:
            began = time.monotonic()
            cycle.run_cycle(config.alerting, store, now, **kwargs)
            took.append(time.monotonic() - began)

        start = time.monotonic()
        worker = threading.Thread(target=evaluate, daemon=True)
        worker.start()
        am_at = _wait_for_am(am.url, RULE.id, start + 3 * WEBHOOK_DEADLINE_S)
        worker.join(3 * WEBHOOK_DEADLINE_S)
        log_at = log.first(f"{RULE.id} FIRING")
        receiver.stop()
        if dispatcher is not None:
            dispatcher.close()
        logging.getLogger("ionmon.alerts").removeHandler(log)
        store.close()
    assert am_at is not None and log_at is not None, "the page never arrived"
    assert took, f"the evaluation did not finish within {3 * WEBHOOK_DEADLINE_S:.0f} s"
    return am_at - start, log_at - start, took[0]


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    base_am, base_log, base_eval = measure(hung=False)
    hung_am, hung_log, hung_eval = measure(hung=True)
    print(f"no webhook:   page to Alertmanager {base_am:.3f} s, to the log {base_log:.3f} s, "
          f"evaluation {base_eval:.3f} s")
    print(f"hung webhook: page to Alertmanager {hung_am:.3f} s, to the log {hung_log:.3f} s, "
          f"evaluation {hung_eval:.3f} s (webhook timeout {WEBHOOK_TIMEOUT_S:g} s, "
          f"deadline {WEBHOOK_DEADLINE_S:g} s)")
    ratio = hung_am / base_am
    print(f"page delay to Alertmanager, hung webhook / no webhook: {ratio:.2f}× "
          f"(target <= {RATIO_TARGET:g}×): {'MET' if ratio <= RATIO_TARGET else 'NOT MET'}")


if __name__ == "__main__":
    main()
