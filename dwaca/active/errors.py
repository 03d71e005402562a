"""The errors of active selection, each a user error (``dwaca.utils.errors.UserError``) that names its culprit."""
from ..utils.errors import UserError


class PoolError(UserError, RuntimeError):
    """The pool on disk is inconsistent (manifest vs masks), or an operation would break its invariants."""


class BudgetError(PoolError):
    """A round bought a number of pixels its budget does not allow."""


class AnnotationError(UserError, ValueError):
    """Bad input at the annotation boundary (config, checkpoint, queries, returned labels); names the culprit."""
