"""What happens around the training steps, one hook each: logging, checkpoints, selection rounds, evaluation.

A hook sees its trainer (``hook.trainer``) and is called at ``before_train``, ``before_step``, ``after_step`` and
``after_train`` (``dwaca.engine.trainer.TrainerBase``), in the order the hooks were registered.
"""
import time

from ..utils import comm as dist
from .evaluation import evaluate_on_test, results_table, write_results


class HookBase:
    trainer = None

    def before_train(self):
        pass

    def before_step(self):
        pass

    def after_step(self):
        pass

    def after_train(self):
        pass


class IterationLogger(HookBase):
    """Every ``period`` iterations and at the last: learning rate, losses, seconds per iteration, time left; logged
    and written to metrics.jsonl (``dwaca.engine.metrics_log``)."""

    def __init__(self, period):
        self.period = period
        self._window_start = None

    def before_step(self):
        if self._window_start is None:
            self._window_start = time.perf_counter()

    def after_step(self):
        t = self.trainer
        if t.iter % self.period and t.iter != t.stop_iter:
            return
        dt = (time.perf_counter() - self._window_start) / self.period
        self._window_start = time.perf_counter()
        losses = {k: v.item() for k, v in t.losses.items()}
        t.log.info("iter %d/%d  lr %.2e  %s  %.2f s/iter  eta %.0f s", t.iter, t.stop_iter, t.lr,
                   "  ".join(f"{k} {v:.4f}" for k, v in losses.items()), dt, dt * (t.stop_iter - t.iter))
        t.metrics.write("train", t.iter, lr=t.lr, seconds_per_iter=dt, **{f"loss/{k}": v for k, v in losses.items()})


class PeriodicCheckpointer(HookBase):
    """A checkpoint every ``period`` iterations and at the last."""

    def __init__(self, period):
        self.period = period

    def after_step(self):
        t = self.trainer
        if t.iter % self.period == 0 or t.iter == t.stop_iter:
            t.checkpoint(t.iter)


class SelectionRounds(HookBase):
    """The selection rounds at ``select_iters``: round r sees the model after exactly ``select_iters[r]`` steps
    (RIPU) and starts from a checkpoint of that state, so a crash after a round never resumes from a state that
    trained without its labels. A round is bought only when training continues after it: a run stopped at a
    round's iteration (crash, preemption, or STOP_ITER set there to answer the round by hand) leaves it to the run
    that resumes, which buys it before its first step."""

    def __init__(self, select_iters):
        self.select_iters = [int(i) for i in select_iters]

    def before_train(self):
        if self.trainer.start_iter < self.trainer.stop_iter:
            self.run_due(self.trainer.start_iter)

    def after_step(self):
        if self.trainer.iter < self.trainer.stop_iter:
            self.run_due(self.trainer.iter)

    def run_due(self, iteration):
        """Run every round due after ``iteration`` steps that is not done yet, each after a checkpoint."""
        t = self.trainer
        while t.rounds_done < len(self.select_iters) and self.select_iters[t.rounds_done] <= iteration:
            if t.saved_iter < iteration:
                t.checkpoint(iteration)
            t.select_round(iteration)

    def after_train(self):
        t = self.trainer
        if t.rounds_done < len(self.select_iters):
            t.log.warning("training stopped at iteration %d with %d of %d selection rounds done", t.iter,
                          t.rounds_done, len(self.select_iters))


class FinalEvaluation(HookBase):
    """Evaluate on DATASETS.TEST after training (``trainer.results``); rank 0 logs the table and writes
    OUTPUT_DIR/results.json."""

    def after_train(self):
        t = self.trainer
        cfg = t.cfg
        t.results = evaluate_on_test(cfg, t.model, t.device, batch_size=cfg.SOLVER.BATCH_SIZE_VAL)
        t.record_evaluation(t.results)
        if not dist.is_main():
            return
        title = f"{cfg.ACTIVE.NAME} {cfg.ACTIVE.SETTING} on {cfg.DATASETS.TEST}, iteration {t.iter}"
        t.log.info("\n%s", results_table(cfg, t.results, title=title))  # the logger writes to stdout too
        path = write_results(t.output_dir, t.results, iteration=t.iter, checkpoint=t.checkpoint_name(),
                             strategy=cfg.ACTIVE.NAME, setting=cfg.ACTIVE.SETTING, rounds_done=t.rounds_done,
                             pixels_total=t.pool.pixels_total, budget_pixels=t.pool.budget_pixels,
                             train_seconds=round(t.train_seconds, 2), dataset=cfg.DATASETS.TEST)
        t.log.info("mIoU %.2f%%, results written to %s", 100 * t.results["mIoU"], path)
