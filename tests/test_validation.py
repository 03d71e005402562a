"""validate_config: every value and relation of the config checked up front, by name (property-based)."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dwaca.active import AnnotationError
from dwaca.config import ConfigError, load_config, validate_config
from dwaca.config.validate import RULES

from conftest import CONFIG

KEYS = [key for key, _, _ in RULES] + ["ACTIVE.RATIO", "ACTIVE.PIXELS", "ACTIVE.RADIUS_K", "ACTIVE.BATCH_SIZE"]
VALUES = st.one_of(st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.text(max_size=8), st.lists(st.integers(-5, 10 ** 6), max_size=4),
                   st.tuples(st.integers(-3, 5000), st.integers(-3, 5000)))


def test_every_shipped_config_is_valid():
    for path in sorted(CONFIG.parents[1].rglob("*.yaml")):
        validate_config(load_config(str(path)), str(path))


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_any_value_is_accepted_or_refused_naming_its_key(key, value):
    try:  # yacs refuses a value of another type than the default's, naming the key
        cfg = load_config(str(CONFIG), [key, repr(value)])
    except (ValueError, KeyError) as err:
        assert key in str(err), (key, value, str(err))
        return
    try:
        validate_config(cfg, "the config")
    except (ConfigError, AnnotationError) as err:
        assert str(err).startswith("the config: ") and key in str(err), (key, value, str(err))


@settings(max_examples=60, deadline=None)
@given(st.integers(-2 ** 40, 2 ** 40))
def test_batch_sizes_below_one_are_refused(n):
    cfg = load_config(str(CONFIG), ["SOLVER.BATCH_SIZE", str(n)])
    if n >= 1:
        validate_config(cfg)
    else:
        with pytest.raises(ConfigError, match=rf"SOLVER.BATCH_SIZE must be an integer >= 1, got {n}$"):
            validate_config(cfg)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-10, 400), max_size=6))
def test_select_iter_must_increase_within_max_iter(rounds):
    cfg = load_config(str(CONFIG), ["ACTIVE.SELECT_ITER", str(rounds), "SOLVER.MAX_ITER", "300"])
    ok = (all(r >= 0 for r in rounds) and all(b > a for a, b in zip(rounds, rounds[1:]))
          and (not rounds or rounds[-1] <= 300))
    if ok:
        validate_config(cfg)
    else:
        with pytest.raises((ConfigError, AnnotationError), match="ACTIVE.SELECT_ITER"):
            validate_config(cfg)


@pytest.mark.parametrize("opts,match", [
    (["SOLVER.MAX_ITER", "-5"], r"SOLVER.MAX_ITER must be an integer >= 1, got -5"),
    (["SOLVER.STOP_ITER", "400"], r"SOLVER.STOP_ITER 400 is beyond SOLVER.MAX_ITER 300"),
    (["ACTIVE.SELECT_ITER", "[3, 2]"], r"ACTIVE.SELECT_ITER must be strictly increasing, got \[3, 2\]"),
    (["ACTIVE.SELECT_ITER", "[-3]"], r"ACTIVE.SELECT_ITER must be a list of integers >= 0, got \[-3\]"),
    (["ACTIVE.SELECT_ITER", "[2.5]"], r"ACTIVE.SELECT_ITER must be a list of integers >= 0, got \[2.5\]"),
    (["ACTIVE.SELECT_ITER", "[40, 400]"], r"ACTIVE.SELECT_ITER \[40, 400\] has a round beyond SOLVER.MAX_ITER 300"),
    (["SOLVER.BASE_LR", "0.0"], r"SOLVER.BASE_LR must be a finite number > 0, got 0.0"),
    (["SOLVER.AMP", "fp8"], r"SOLVER.AMP must be '' \(off\), 'bf16' or 'fp16', got 'fp8'"),
    (["MODEL.NUM_CLASSES", "7"], r"MODEL.NUM_CLASSES must be 19 .* or 16 .*, got 7"),
    (["INPUT.INPUT_SCALES_TRAIN", "(1.5, 0.5)"], r"INPUT.INPUT_SCALES_TRAIN must be \(low, high\)"),
    (["INPUT.INPUT_SIZE_TEST", "(0, 32)"], r"INPUT.INPUT_SIZE_TEST must be \(W, H\), two positive integers"),
    (["ACTIVE.SIGMA", "-1.0"], r"ACTIVE.SIGMA must be a number >= 0, got -1.0"),
    (["ACTIVE.RATIO", "1.5"], r"ACTIVE.RATIO must be in \(0, 1\], got 1.5"),
])
def test_misuses_are_named(opts, match):
    with pytest.raises((ConfigError, AnnotationError), match=match):
        validate_config(load_config(str(CONFIG), opts))


def test_a_nan_learning_rate_is_refused():
    cfg = load_config(str(CONFIG)).clone()
    cfg.defrost()
    cfg.SOLVER.BASE_LR = math.nan
    with pytest.raises(ConfigError, match="SOLVER.BASE_LR must be a finite number > 0, got nan"):
        validate_config(cfg)
