"""Errors raised by the learner (kept free of heavy imports so consumers can catch them cheaply)."""

from __future__ import annotations

__all__ = ["DivergenceError", "UnknownParameterError"]


class DivergenceError(ValueError):
    """An update was refused because it would have made the model's state non-finite.

    The model is left exactly as it was before the refused update.

    Attributes
    ----------
    row
        Index, within the block passed to `learn_sequential`, of the refused row (0 for
        `learn_one` and `learn_many`). The rows before it were learned.
    predictions
        The prequential predictions of the rows before `row`.

    """

    def __init__(self, message: str, row: int = 0, predictions=None):
        super().__init__(message)
        self.row = row
        self.predictions = predictions


class UnknownParameterError(ValueError):
    """A configuration names a parameter the model (or a settings section) does not have.

    The message names the closest known one. `consumers.config` reports its unknown keys with it.

    Attributes
    ----------
    key
        The unknown parameter's name.
    known
        The parameters the model has.

    Examples
    --------
    >>> print(UnknownParameterError("learning_rat", ["l2", "learning_rate"]))
    unknown model parameter 'learning_rat'; did you mean 'learning_rate'? known: l2, learning_rate

    """

    def __init__(self, key: str, known: list[str], what: str = "model parameter"):
        import difflib

        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        super().__init__(f"unknown {what} {key!r}; {hint}known: {', '.join(sorted(known))}")
        self.key = key
        self.known = known
