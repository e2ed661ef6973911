"""The failure path's parser: whatever a Catch recorded becomes an error name and a reason."""

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from spinboard.failure import (
    MAX_ERROR_NAME_CHARS,
    MAX_REASON_CHARS,
    NO_CAUSE,
    UNKNOWN_ERROR,
    Failure,
    describe,
)

LAMBDA_DOCUMENT = {
    "errorMessage": "account 123456789012 is not a member of the organization",
    "errorType": "InvalidRequest",
    "requestId": "4c1c3d3e-0000-4000-8000-000000000000",
    "stackTrace": ['  File "/var/task/handlers/validate_request.py", line 17, in handler\n'],
}


def test_a_lambda_error_document_gives_its_message() -> None:
    caught = {"Error": "InvalidRequest", "Cause": json.dumps(LAMBDA_DOCUMENT)}

    assert describe(caught) == Failure(
        "InvalidRequest", "account 123456789012 is not a member of the organization"
    )


def test_plain_text_causes_are_kept_as_text() -> None:
    for error, cause in (
        ("Lambda.ResourceConflictException", "The operation cannot be performed at this time."),
        ("States.Permissions", "not authorized to perform: lambda:InvokeFunction on resource"),
        ("States.TaskFailed", "  the task failed\n"),
        ("States.Timeout", "{not json"),
    ):
        assert describe({"Error": error, "Cause": cause}) == Failure(error, cause.strip())


def test_an_empty_or_missing_cause_still_gives_a_reason() -> None:
    assert describe({"Error": "States.Timeout", "Cause": ""}) == Failure("States.Timeout", NO_CAUSE)
    assert describe({"Error": "States.Timeout"}) == Failure("States.Timeout", NO_CAUSE)
    assert describe({"Error": "States.Timeout", "Cause": None}) == Failure(
        "States.Timeout", NO_CAUSE
    )


def test_a_huge_cause_is_trimmed_keeping_its_end() -> None:
    output = "x" * 40_000 + " hal deploy apply failed"
    plain = describe({"Error": "States.TaskFailed", "Cause": output})
    document = describe({"Error": "HalyardTimeout", "Cause": json.dumps({"errorMessage": output})})

    for failure in (plain, document):
        assert len(failure.reason) == MAX_REASON_CHARS
        assert failure.reason.endswith("hal deploy apply failed")
        assert "characters cut" in failure.reason


def test_a_lambda_document_cut_by_step_functions_gives_what_arrived_of_its_message() -> None:
    whole = json.dumps({"errorMessage": "halyard said: no", "errorType": "X", "stackTrace": []})
    cut_after_message = whole[: whole.index('"errorType"') + 5]
    cut_inside_message = json.dumps({"errorMessage": "a" * 100})[:60]

    assert describe({"Error": "X", "Cause": cut_after_message}).reason == "halyard said: no"
    arrived = 60 - len('{"errorMessage": "')
    assert describe({"Error": "X", "Cause": cut_inside_message}).reason == "a" * arrived


def test_a_missing_error_name_comes_from_the_document_or_is_unknown() -> None:
    assert describe({"Cause": json.dumps(LAMBDA_DOCUMENT)}).error == "InvalidRequest"
    assert describe({"Cause": "plain"}) == Failure(UNKNOWN_ERROR, "plain")
    assert describe(None) == Failure(UNKNOWN_ERROR, NO_CAUSE)
    assert describe("States.Timeout") == Failure(UNKNOWN_ERROR, NO_CAUSE)
    assert len(describe({"Error": "E" * 1000}).error) == MAX_ERROR_NAME_CHARS


def test_json_that_is_not_a_lambda_document_is_kept_as_text() -> None:
    assert describe({"Error": "E", "Cause": "[1, 2]"}).reason == "[1, 2]"
    assert describe({"Error": "E", "Cause": '{"message": "m"}'}).reason == '{"message": "m"}'
    assert describe({"Error": "E", "Cause": {"errorMessage": "as an object"}}).reason == (
        "as an object"
    )
    assert describe({"Error": "E", "Cause": {"other": 1}}).reason == '{"other": 1}'
    assert describe({"Error": "E", "Cause": 42}).reason == "42"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=8,
)
causes = (
    st.text()
    | st.builds(json.dumps, json_values)
    | st.builds(
        lambda message, cut: json.dumps({"errorMessage": message, "errorType": "E"})[:cut],
        st.text(),
        st.integers(min_value=0, max_value=200),
    )
)


@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries({}, optional={"Error": json_values, "Cause": causes | json_values}),
    )
)
def test_any_input_gives_a_non_empty_error_and_reason_within_limits(caught: Any) -> None:
    failure = describe(caught)

    assert isinstance(failure.error, str)
    assert 0 < len(failure.error) <= MAX_ERROR_NAME_CHARS
    assert isinstance(failure.reason, str)
    assert 0 < len(failure.reason) <= MAX_REASON_CHARS
    assert failure.to_dict() == {"error": failure.error, "reason": failure.reason}
