"""Region codes come from botocore's bundled endpoint data, for every partition."""

import re

import pytest

from spinboard.regions import known_regions, unknown_regions, validate_regions


def test_every_partition_is_known_and_pseudo_regions_are_not() -> None:
    regions = known_regions()
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1", "us-iso-east-1"} <= regions
    assert not {"aws-global", "aws-cn-global", "aws-us-gov-global"} & regions
    assert len(regions) > 30


def test_unknown_regions_keep_their_order() -> None:
    assert unknown_regions(["b-1", "us-east-1", "a-1"]) == ["b-1", "a-1"]


def test_validate_regions_returns_a_tuple() -> None:
    assert validate_regions(["us-west-2", "us-east-1"]) == ("us-west-2", "us-east-1")


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        ([], "empty"),
        (["us-east-1", "US-EAST-1"], "unknown AWS region code(s) 'US-EAST-1'"),
        (["us-east-1", "us-east-1"], "'us-east-1' listed more than once"),
        (["x" * 100], "'xxxxxxxxxxxxxxxxxxxxxxxxxx..."),
    ],
)
def test_invalid_regions(regions: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_regions(regions)
