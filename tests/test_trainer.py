"""The trainer's rules, each without a training: the loop and its hooks, when checkpoints and selection rounds
happen, and how a checkpoint is reconciled with the labelled pool on resume."""
import logging
from types import SimpleNamespace

import pytest

from dwaca.active import PoolError
from dwaca.config import load_config
from dwaca.engine.hooks import HookBase, PeriodicCheckpointer, SelectionRounds
from dwaca.engine.resume import check_fresh_start, reconcile_rounds
from dwaca.engine.trainer import TrainerBase

LOG = logging.getLogger("test_trainer")


class Recorder(HookBase):
    def __init__(self, events):
        self.events = events

    def before_train(self):
        self.events.append(("before_train", self.trainer.iter))

    def before_step(self):
        self.events.append(("before_step", self.trainer.iter))

    def after_step(self):
        self.events.append(("after_step", self.trainer.iter))

    def after_train(self):
        self.events.append(("after_train", self.trainer.iter))


class FakeTrainer(TrainerBase):
    """Steps that only count; checkpoints and rounds recorded in ``events``."""

    def __init__(self, events, rounds_done=0, saved_iter=-1):
        super().__init__()
        self.events = events
        self.rounds_done, self.saved_iter = rounds_done, saved_iter
        self.log = LOG

    def run_step(self):
        self.events.append(("step", self.iter))

    def checkpoint(self, iteration):
        self.events.append(("checkpoint", iteration))
        self.saved_iter = iteration

    def select_round(self, iteration):
        self.events.append(("round", iteration))
        self.rounds_done += 1


def _run(start, stop, hooks, **state):
    events = []
    trainer = FakeTrainer(events, **state)
    trainer.register_hooks(hooks)
    trainer.train(start, stop)
    return trainer, [e for e in events if e[0] in ("checkpoint", "round")]


def test_the_loop_calls_hooks_in_order_around_each_step():
    events = []
    trainer = FakeTrainer(events)
    trainer.register_hooks([Recorder(events)])
    trainer.train(2, 4)
    assert events == [("before_train", 2), ("before_step", 3), ("step", 3), ("after_step", 3), ("before_step", 4),
                      ("step", 4), ("after_step", 4), ("after_train", 4)]
    assert trainer.iter == 4


def test_a_run_with_nothing_left_to_do_keeps_its_iteration():
    trainer, events = _run(5, 5, [PeriodicCheckpointer(2), SelectionRounds([5])], saved_iter=5)
    assert trainer.iter == 5 and events == []


def test_checkpoints_every_period_and_at_the_last_iteration():
    _, events = _run(0, 7, [PeriodicCheckpointer(3)])
    assert events == [("checkpoint", 3), ("checkpoint", 6), ("checkpoint", 7)]


def test_each_round_follows_a_checkpoint_of_its_iteration_and_only_when_training_goes_on():
    # rounds at 2 (not a checkpoint iteration: one is written for it), 4 (the periodic one serves), and 6 = STOP_ITER
    # (left to the run that resumes)
    trainer, events = _run(0, 6, [PeriodicCheckpointer(4), SelectionRounds([2, 4, 6])])
    assert events == [("checkpoint", 2), ("round", 2), ("checkpoint", 4), ("round", 4), ("checkpoint", 6)]
    assert trainer.rounds_done == 2


def test_rounds_due_at_the_same_iteration_share_one_checkpoint():
    _, events = _run(0, 5, [PeriodicCheckpointer(10), SelectionRounds([3, 3])])
    assert events == [("checkpoint", 3), ("round", 3), ("round", 3), ("checkpoint", 5)]


def test_a_resumed_run_buys_the_round_due_at_its_start_before_its_first_step():
    # resumed from the checkpoint at 6, where the previous run stopped with the round at 6 not bought
    trainer, events = _run(6, 8, [PeriodicCheckpointer(4), SelectionRounds([2, 4, 6])], rounds_done=2, saved_iter=6)
    assert events == [("round", 6), ("checkpoint", 8)]
    assert trainer.rounds_done == 3


def test_rounds_the_pool_already_holds_are_never_redone():
    _, events = _run(4, 8, [PeriodicCheckpointer(100), SelectionRounds([2, 5])], rounds_done=2, saved_iter=4)
    assert events == [("checkpoint", 8)]


def test_stopping_with_rounds_left_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        _run(0, 3, [SelectionRounds([1, 3])])
    assert "training stopped at iteration 3 with 1 of 2 selection rounds done" in caplog.text


# -- resume rules ----------------------------------------------------------------------------------------------------
def _cfg(**active):
    opts = [x for key, value in active.items() for x in (f"ACTIVE.{key}", str(value))]
    return load_config(None, opts)


def _state(rounds_done, cfg):
    return {"rounds_done": rounds_done, "config": cfg.dump(), "iteration": 10}


def _pool(rounds_done):
    return SimpleNamespace(rounds_done=rounds_done, root="OUT/pool")


def test_checkpoint_and_pool_with_the_same_rounds_restore_the_training_confusion():
    cfg = _cfg()
    assert reconcile_rounds("ckpt", _state(2, cfg), _pool(2), cfg, LOG) is True


def test_a_pool_ahead_of_the_checkpoint_wins_with_a_warning(caplog):
    cfg = _cfg()
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        assert reconcile_rounds("ckpt", _state(1, cfg), _pool(2), cfg, LOG) is False
    assert "the pool holds 2 rounds, the checkpoint 1" in caplog.text


def test_a_pool_behind_the_checkpoint_is_refused():
    cfg = _cfg()
    with pytest.raises(PoolError, match="checkpoint ckpt has 2 selection rounds done but the pool at OUT/pool holds 1"):
        reconcile_rounds("ckpt", _state(2, cfg), _pool(1), cfg, LOG)


def test_a_run_that_bought_labels_keeps_its_budget():
    was = _cfg(RATIO=0.05)
    with pytest.raises(ValueError, match="ACTIVE.RATIO 0.05; this run has ACTIVE.RATIO 0.02"):
        reconcile_rounds("ckpt", _state(1, was), _pool(1), _cfg(RATIO=0.02), LOG)
    # before any round nothing was bought: the budget may still change
    assert reconcile_rounds("ckpt", _state(0, was), _pool(0), _cfg(RATIO=0.02), LOG) is True


def test_a_fresh_start_on_a_pool_with_rounds_is_refused():
    check_fresh_start(_pool(0), "OUT")
    with pytest.raises(PoolError, match="OUT/pool already holds 1 selection rounds"):
        check_fresh_start(_pool(1), "OUT")
