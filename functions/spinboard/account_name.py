"""Spinnaker account names: the rule they follow and how one is derived from an AWS account.

A Spinnaker account name must match ``^[a-z0-9]+([-a-z0-9]*[a-z0-9])?$`` and be at most
63 characters long, because:

- clouddriver builds cache keys by joining fields with ``:`` and splits them again, and a
  ``.`` in a name broke its ``/credentials/{account}`` endpoint;
- the name is passed to ``hal`` through a shell on the Minnaker host, so characters such as
  ``;`` `` ` `` ``$`` ``|`` ``&`` or spaces must never reach it;
- 63 characters is the longest DNS label and Kubernetes label value, where names also go.
"""

import re
import unicodedata

# Used with ``fullmatch`` (``$`` would accept a trailing newline).
PATTERN = re.compile(r"[a-z0-9]+([-a-z0-9]*[a-z0-9])?")
MAX_LENGTH = 63
SLUG_PLACEHOLDER = "{slug}"
DEFAULT_TEMPLATE = "aws-{slug}"

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_ACCOUNT_ID_LENGTH = 12


def problem_with(name: str) -> str | None:
    """Why ``name`` is not a valid Spinnaker account name, or ``None`` when it is."""
    if len(name) > MAX_LENGTH:
        return f"it is {len(name)} characters long; the limit is {MAX_LENGTH}"
    if not PATTERN.fullmatch(name):
        return (
            "use only lowercase letters, digits and '-', starting and ending with a letter "
            "or digit (clouddriver splits names on ':' and '.', and the name reaches a shell)"
        )
    return None


def slug(text: str) -> str:
    """Lowercase ASCII letters and digits, every other run of characters as one ``-``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")


def problem_with_template(template: str) -> str | None:
    """Why ``template`` cannot derive valid names, or ``None`` when it can."""
    if template.count(SLUG_PLACEHOLDER) != 1:
        return f"it must contain {SLUG_PLACEHOLDER} exactly once"
    fixed = template.replace(SLUG_PLACEHOLDER, "")
    if "{" in fixed or "}" in fixed:
        return f"{SLUG_PLACEHOLDER} is the only placeholder it may contain"
    room = MAX_LENGTH - len(fixed)
    if room < _ACCOUNT_ID_LENGTH:
        return (
            f"its fixed part is {len(fixed)} characters long; at most "
            f"{MAX_LENGTH - _ACCOUNT_ID_LENGTH} leaves room for a 12-digit account id"
        )
    # A slug starts and ends with a letter or digit and holds only [-a-z0-9], so if the
    # template makes a valid name around one letter it does around every slug.
    if not PATTERN.fullmatch(template.replace(SLUG_PLACEHOLDER, "a")):
        return (
            "the text around {slug} may hold only lowercase letters, digits and '-', "
            "and a name must start and end with a letter or digit"
        )
    return None


def derive(template: str, organization_account_name: str, account_id: str) -> str:
    """The Spinnaker account name for an AWS account, from its Organizations name.

    The slug is cut so the whole name fits in 63 characters; when nothing of the
    Organizations name survives slugging, the account id takes its place. ``template``
    must have passed ``problem_with_template``.
    """
    room = MAX_LENGTH - (len(template) - len(SLUG_PLACEHOLDER))
    name_slug = slug(organization_account_name)[:room].rstrip("-") or account_id
    return template.replace(SLUG_PLACEHOLDER, name_slug)
