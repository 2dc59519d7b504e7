"""The batch prefetch thread: the same batches and losses as without it, checkpoints that
hold the draws as they were, a bounded queue that stops cleanly, and failures that
surface as the job's."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.swap import checkpoint
from engine.swap.config import get_preset
from engine.swap.prefetch import DEPTH, BatchSource, Prefetcher
from engine.swap.trainer import Trainer

TINY = {"preset": "fast-64", "seed": 6, "metric_every": 1, "preview_every": 0, "preview_every_s": 0}


def _trainer(make_face_set: Any) -> Trainer:
    p = get_preset("fast-64")
    cfg = p.train.updated({"batch_size": 4, "uniform_yaw": True})
    return Trainer(p.model, cfg, make_face_set(16, 64, 1), make_face_set(16, 64, 2), seed=5)


def _same(a: Any, b: Any) -> bool:
    return all(torch.equal(x, y) for ba, bb in zip(a, b, strict=True) for x, y in zip(ba, bb, strict=True))


def test_prefetched_batches_are_the_inline_ones_and_settle_rewinds_the_draws(make_face_set: Any) -> None:
    inline, ahead = _trainer(make_face_set), _trainer(make_face_set)
    plain = BatchSource(inline, prefetch=False)
    pre = BatchSource(ahead, prefetch=True)
    try:
        for _ in range(3):
            assert _same(plain.next(), pre.next())
        time.sleep(0.2)  # the thread has drawn ahead (up to DEPTH steps, and one more in hand)
        assert ahead.src_sampler.drawn > inline.src_sampler.drawn
        pre.settle()
        gen, src, dst = ahead.draw_position()
        assert (src, dst) == (inline.src_sampler.drawn, inline.dst_sampler.drawn)
        assert torch.equal(gen, inline.gen.get_state())  # as if nothing had been drawn ahead
        assert _same(plain.next(), pre.next())  # and it carries on with the next batch
    finally:
        pre.close()
    assert not any(t.name == "facesmith-prefetch" for t in threading.enumerate())


def test_the_queue_is_bounded_and_stop_ends_the_thread() -> None:
    made: list[int] = []

    def produce() -> int:
        made.append(len(made))
        return made[-1]

    pf = Prefetcher(produce, depth=DEPTH)
    assert pf.get() == 0 and pf.get() == 1
    time.sleep(0.3)
    assert len(made) <= 2 + DEPTH + 1  # two taken, DEPTH queued, one waiting to be queued
    pf.stop()
    assert not pf.running and not any(t.name == "facesmith-prefetch" for t in threading.enumerate())
    n = len(made)
    assert pf.get() == n  # it starts again on demand, past what was dropped
    pf.stop()


def test_an_exception_on_the_thread_is_raised_by_get() -> None:
    def produce() -> int:
        raise OSError("pack unreadable")

    pf = Prefetcher(produce)
    with pytest.raises(OSError, match="pack unreadable") as info:
        pf.get()
    assert any("prefetch thread" in n for n in info.value.__notes__)
    assert not pf.running


def test_training_with_prefetch_matches_training_without(tmp_path: Path, extracted_project: Any,
                                                         job_runner: Any) -> None:
    run, series = job_runner
    # Checkpoints at nearly every step: each one rewinds the prefetch thread.
    params = {**TINY, "iterations": 6, "checkpoint_every_s": 0.1}
    on, off = extracted_project.copy(tmp_path / "on"), extracted_project.copy(tmp_path / "off")
    a = run(on, "train_swap", params)
    b = run(off, "train_swap", {**params, "prefetch": False})
    assert a.state == "done", a.error_text
    assert b.state == "done", b.error_text
    for name in ("src_loss", "dst_loss"):
        sa, sb = series(on, a.id, name), series(off, b.id, name)
        assert [s for s, _ in sa] == list(range(1, 7))
        assert sa == sb, name  # the same batches, bit for bit
    # The checkpoints hold the same draws: a resume continues identically either way.
    sta = checkpoint.read_state(on / "models" / "1" / "latest")
    stb = checkpoint.read_state(off / "models" / "1" / "latest")
    assert sta["samplers"] == stb["samplers"] and sta["rng"]["generator"] == stb["rng"]["generator"]


def test_a_failure_in_batch_preparation_fails_the_job_with_its_message(project_copy: Path, job_runner: Any) -> None:
    run, _ = job_runner
    job = run(project_copy, "train_swap", {**TINY, "iterations": 6, "fault_prep_at": 3})
    assert job.state == "failed"
    assert "injected fault in the batch preparation of iteration 3" in job.status_text
    assert "prefetch thread" in job.error_text
    assert not any(t.name == "facesmith-prefetch" for t in threading.enumerate())
