"""Error text keeps the chained cause."""

from __future__ import annotations

import pytest

from sargeo.errors import error_chain, error_text


def _raise_chained() -> None:
    try:
        raise OSError("TIFFReadEncodedTile:Read error at row 256, col 0, tile 2")
    except OSError as err:
        raise RuntimeError("Read failed. See previous exception for details.") from err


def test_the_cause_replaces_the_pointer_to_it():
    with pytest.raises(RuntimeError) as info:
        _raise_chained()
    assert error_text(info.value) == ("Read failed: TIFFReadEncodedTile:Read error at row 256, "
                                      "col 0, tile 2")


def test_implicit_context_is_shown_and_suppressed_context_is_not():
    try:
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("outer")  # noqa: B904 (implicit context on purpose)
    except ValueError as err:
        assert error_text(err) == "outer: 'inner'"
    try:
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("outer") from None
    except ValueError as err:
        assert error_text(err) == "outer"


def test_empty_messages_show_the_type_and_cycles_end():
    a, b = ValueError(), RuntimeError("b")
    a.__cause__, b.__cause__ = b, a
    assert error_chain(a) == [a, b]
    assert error_text(a) == "ValueError: b"


def test_a_message_repeated_down_the_chain_is_shown_once():
    try:
        try:
            try:
                raise OSError("TIFFFillTile:Read error at row 256")
            except OSError as err:
                raise OSError("TIFFReadEncodedTile() failed.") from err
        except OSError as err:
            raise OSError("band 1: IReadBlock failed: TIFFReadEncodedTile() failed.") from err
    except OSError as err:
        assert error_text(err) == ("band 1: IReadBlock failed: TIFFReadEncodedTile() failed: "
                                   "TIFFFillTile:Read error at row 256")
