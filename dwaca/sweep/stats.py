"""Small-sample statistics of a sweep: mean, sample standard deviation and Student-t confidence intervals, plain
and paired. No scipy: the t quantile inverts the t distribution's CDF, written with the regularized incomplete beta
function (continued fraction, modified Lentz), by bisection, which cannot fail to converge."""
import math

_TINY = 1e-300
_EPS = 1e-15


def _beta_fraction(a, b, x):
    """The continued fraction of the incomplete beta function I_x(a, b) (converges fast for x < (a+1)/(a+b+2))."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    value = d
    for m in range(1, 1000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            value *= c * d
        if abs(c * d - 1.0) < _EPS:
            break
    return value


def incomplete_beta(a, b, x):
    """The regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1]."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b  # the symmetry I_x(a,b) = 1 - I_1-x(b,a)


def student_t_cdf(t, df):
    """P(T <= t) for Student's t with ``df`` > 0 degrees of freedom."""
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def student_t_quantile(p, df):
    """The t with P(T <= t) = p, for p in (0, 1) and ``df`` > 0, to about 1e-12 relative."""
    if not 0.0 < p < 1.0 or not df > 0:
        raise ValueError(f"student_t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while student_t_cdf(high, df) < p:
        if high > 1e300:  # p so close to 1 that the quantile overflows
            raise ValueError(f"student_t_quantile: p={p} is too close to 1 for df={df}")
        low, high = high, 2.0 * high
    for _ in range(200):
        mid = 0.5 * (low + high)
        if student_t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * high:
            break
    return 0.5 * (low + high)


def describe(values, level=0.95):
    """{"n", "mean", "std", "half_width", "low", "high"} of ``values`` (numbers): the mean, the sample standard
    deviation (n - 1) and the two-sided ``level`` Student-t interval of the mean. With one value std and the
    interval are None; with none, every field but n."""
    values = [float(v) for v in values]
    n = len(values)
    out = {"n": n, "mean": None, "std": None, "half_width": None, "low": None, "high": None}
    if n == 0:
        return out
    out["mean"] = mean = math.fsum(values) / n
    if n > 1:
        out["std"] = std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
        out["half_width"] = half = student_t_quantile(0.5 + level / 2.0, n - 1) * std / math.sqrt(n)
        out["low"], out["high"] = mean - half, mean + half
    return out


def paired_difference(values, baseline, level=0.95):
    """``describe`` of values[s] - baseline[s] over the keys (seeds) both dicts hold, plus "seeds": those keys,
    sorted."""
    seeds = sorted(values.keys() & baseline.keys())
    return {**describe([values[s] - baseline[s] for s in seeds], level), "seeds": seeds}
