"""Messages with their history: leases, retries, dead letters, redrive."""
import multiprocessing
import os
import signal
import time

import pytest

import fq


def test_recv_msg_has_a_history(path):
    with fq.Queue(path) as q:
        q.send(b"plain")
        with q.recv_msg(timeout=5) as m:
            assert m.data == b"plain" and m.attempts == 1 and m.deaths == 0
            assert m.origin == "" and m.reason == "" and not m.permanent and not m.leased
            assert m.first_death is None and m.last_death is None and m.not_before is None
            m.ack()  # a no-op without a lease
        with pytest.raises(fq.Closed, match="message is closed"):
            m.ack()


def test_lease_ack(path):
    with fq.Queue(path) as q:
        q.put({"job": 1})
        m = q.lease(timeout=5)
        assert m.leased and m.load() == {"job": 1}
        assert q.stats()["leased"] == 1
        m.ack()
        m.close()
        assert q.stats()["held"] == 0
        with pytest.raises(fq.WouldBlock):
            q.recv(timeout=0)


def test_retry_with_reason_and_delay(path):
    with fq.Queue(path) as q:
        q.send(b"job")
        with q.lease() as m:
            m.retry("upstream said 503", delay=0.2)
        with pytest.raises(fq.WouldBlock):
            q.recv_msg(timeout=0)  # not before its delay
        with q.lease(timeout=5) as m:
            assert m.data == b"job" and m.attempts == 2 and m.reason == "upstream said 503"
            assert m.not_before is not None and m.not_before <= time.time()
            m.ack()


def test_unsettled_lease_goes_back_when_closed(path):
    with fq.Queue(path) as q:
        q.send(b"job")
        q.lease().close()
        with q.lease(timeout=5) as m:
            assert m.data == b"job" and m.attempts == 2
            m.ack()


def test_fail_by_policy_then_dead_letters_and_redrive(path):
    with fq.Queue(path) as q:
        policy = q.set_policy(max_attempts=2, backoff_base_ms=10, jitter_pct=0)
        assert policy.max_attempts == 2 and q.policy() == policy
        q.send(b"doomed")
        with q.lease() as m:
            assert m.fail("first") == pytest.approx(0.01)
        with q.lease(timeout=5) as m:
            assert m.attempts == 2
            assert m.fail("second") is None, "out of attempts: dead-lettered"
        with fq.Queue(path + ".dlq") as dlq:
            with dlq.recv_msg(timeout=5) as d:
                assert d.data == b"doomed" and d.origin == path and d.reason == "second"
                assert d.deaths == 1 and d.first_death is not None
            q.send(b"bad input")
            with q.lease() as m:
                assert m.fail("never works", permanent=True) is None
            with dlq.lease(timeout=5) as d:
                assert d.permanent and d.reason == "never works"
                d.retry(delay=0)  # leave it for redrive
            assert dlq.redrive() == 1
        with q.recv_msg(timeout=5) as back:
            assert back.data == b"bad input" and back.attempts == 1 and back.deaths == 1
    log = list(fq.dead_letters(path))
    assert [(m.data, m.reason) for m in log] == [(b"doomed", "second"), (b"bad input", "never works")]


def test_dead_letter_and_redrive_elsewhere(path, tmp_path):
    other = str(tmp_path / "other.fifo")
    with fq.Queue(path) as q, fq.Queue(other) as o:
        q.send(b"m")
        with q.lease() as m:
            m.dead_letter("by hand")
        with fq.Queue(path + ".dlq") as dlq:
            assert dlq.redrive(to=other) == 1
        assert o.recv(timeout=5) == b"m"


def test_lease_lost(path):
    with fq.Queue(path) as q:
        q.send(b"slow")
        m = q.lease(lease=0.05)
        time.sleep(0.2)  # the lease runs out: the point of this test
        with q.lease(timeout=5) as again:
            assert again.attempts == 2
            again.ack()
        with pytest.raises(fq.LeaseLost):
            m.ack()
        m.close()


def test_a_killed_leaseholder_gives_the_message_back(path):
    ctx = multiprocessing.get_context("fork")
    with fq.Queue(path) as q:
        q.send(b"job")
        ready = ctx.Event()
        p = ctx.Process(target=_lease_and_hang, args=(q, ready))
        p.start()
        assert ready.wait(10)
        os.kill(p.pid, signal.SIGKILL)
        p.join(10)
        with q.lease(timeout=5) as m:
            assert m.data == b"job" and m.attempts == 2
            m.ack()


def _lease_and_hang(q, ready):
    q.lease()
    ready.set()
    time.sleep(60)


def test_policy_bad_values(path):
    with fq.Queue(path) as q:
        with pytest.raises(TypeError, match="unknown"):
            q.set_policy(retries=3)
        with pytest.raises(fq.InvalidArgument):
            q.set_policy(max_attempts=0)
        with pytest.raises(fq.InvalidArgument):
            q.set_policy(backoff_factor=0.5)


def test_stats(path):
    with fq.Queue(path) as q:
        q.send(b"abc")
        s = q.stats()
        assert s["queued_msgs"] == 1 and s["queued_bytes"] == 3 and s["sent"] == 1
        assert {"received", "room_msgs", "max_msg", "held", "dead_lettered"} <= set(s)
        assert "size" not in s
