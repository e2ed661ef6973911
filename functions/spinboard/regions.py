"""The AWS region codes that exist, from the endpoint data bundled with botocore.

No network call: botocore ships ``endpoints.json`` and ``partitions.json`` for every
partition (aws, aws-cn, aws-us-gov, the isolated partitions). Pseudo-regions such as
``aws-global`` are not region codes and are left out.
"""

import re
from collections.abc import Iterable
from functools import cache

import botocore.loaders

_REGION_CODE = re.compile(r"[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}")


@cache
def known_regions() -> frozenset[str]:
    """Every region code botocore knows, across all partitions."""
    loader = botocore.loaders.create_loader()
    codes: set[str] = set()
    for partition in loader.load_data("endpoints")["partitions"]:
        codes.update(partition["regions"])
    for partition in loader.load_data("partitions")["partitions"]:
        codes.update(partition["regions"])
    return frozenset(code for code in codes if _REGION_CODE.fullmatch(code))


def unknown_regions(regions: Iterable[str]) -> list[str]:
    """The members of ``regions`` that are not AWS region codes, in their given order."""
    known = known_regions()
    return [region for region in regions if region not in known]


def validate_regions(regions: Iterable[str]) -> tuple[str, ...]:
    """Return ``regions`` as a tuple if every member is a real AWS region code.

    Raises ``ValueError`` naming the unknown codes; callers turn it into the error
    that fits their context (a bad request, a bad setting).
    """
    given = tuple(regions)
    if not given:
        raise ValueError("the list of regions is empty; give at least one region code")
    unknown = unknown_regions(given)
    if unknown:
        raise ValueError(
            f"unknown AWS region code(s) {', '.join(map(_shown, unknown[:5]))}; "
            "use codes such as 'us-east-1' or 'eu-west-1'"
        )
    duplicates = sorted({region for region in given if given.count(region) > 1})
    if duplicates:
        raise ValueError(f"region(s) {', '.join(map(_shown, duplicates))} listed more than once")
    return given


def _shown(code: str, limit: int = 30) -> str:
    text = repr(code)
    return text if len(text) <= limit else text[: limit - 3] + "..."
