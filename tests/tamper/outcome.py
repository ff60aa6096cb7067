"""What a layer did with an artifact, as a list of outcomes (one per reply a lookup serves,
one for anything else): ACCEPTED or the code it was refused with."""

from .table import ACCEPTED


def verdict(outcomes: list[str]) -> str:
    """The row's result: the first refusal's code, else ACCEPTED."""
    return next((o for o in outcomes if o != ACCEPTED), ACCEPTED)


def check(outcomes: list[str], expected: str, where: str) -> None:
    """Exactly the expected code, and nothing refused for another reason (a genuine reply
    served next to a tampered one still opens)."""
    assert outcomes, f"{where}: no outcome"
    if expected == ACCEPTED:
        assert set(outcomes) == {ACCEPTED}, f"{where}: refused {outcomes}, want it accepted"
    else:
        assert verdict(outcomes) == expected and set(outcomes) <= {expected, ACCEPTED}, (
            f"{where}: got {outcomes}, want {expected}"
        )
