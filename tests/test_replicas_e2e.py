"""Two replicas behave as one bot: webhook mode behind a round-robin proxy, one PostgreSQL, one Chroma server,
and one replica killed with SIGKILL half-way (tests/support/replicas.py runs it; figures:
benchmarks/bench_replicas.py). Every reply and relayed message arrives exactly once, the upload is answered by
both replicas at once and the removed document is never cited again."""

from __future__ import annotations

import pytest

from tests.conftest import postgres_database
from tests.support import replicas

pytestmark = pytest.mark.slow


def test_two_replicas_one_killed_deliver_everything_once(tmp_path, request):
    outcome = replicas.run(tmp_path, postgres_database(request), owners=20, per_owner=5, relay=30)
    for name, tail in outcome.logs.items():
        print(f"\n--- {name} (tail) ---\n{tail}")
    assert all(outcome.served_by_each), outcome.served_by_each  # both replicas took part
    assert 0 < outcome.killed_after < 100
    assert outcome.lost == [], outcome.lost
    assert outcome.duplicated == [], outcome.duplicated
    # The one exception to "once": a message whose send the kill cut off may have reached Telegram; the survivor
    # sends it again when the lease runs out (at most once, and only such a message).
    assert len(outcome.resent_after_kill) <= outcome.taken_over, outcome.resent_after_kill
    assert len(outcome.latencies) == 100 and outcome.relayed == 30
    assert all(replicas.UPLOAD_TITLE in reply for reply in outcome.upload_answers), outcome.upload_answers
    assert not any(replicas.UPLOAD_TITLE in reply for reply in outcome.after_removal), outcome.after_removal
