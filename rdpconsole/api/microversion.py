"""Compute API microversions: parsing the request headers and comparing versions.

The header rules are microversion_parse.get_version's, as Nova 28.0.0 calls it.
"""

import functools
import re

from rdpconsole.api import faults

MIN_VERSION_STRING = "2.1"
# Nova 28.0.0 (2023.2) stops at 2.95; every later microversion came after RDP's removal.
MAX_VERSION_STRING = "2.95"

STANDARD_HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
SERVICE_TYPE = "compute"

_VERSION_PATTERN = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")
MAX_VERSION_STRING_LENGTH = 32  # characters; real versions such as 2.95 have four


@functools.total_ordering
class APIVersion:
    """A microversion ``major.minor``, ordered numerically (2.10 > 2.9)."""

    __slots__ = ("major", "minor")

    def __init__(self, version_string):
        match = _VERSION_PATTERN.match(version_string)
        # Python's int() rejects strings of more than 4300 digits; such a
        # version is as malformed as one that fails the pattern.
        if not match or len(version_string) > MAX_VERSION_STRING_LENGTH:
            raise faults.ApiError(
                400,
                f"API Version String {version_string} is of invalid format. "
                "Must be of format MajorNum.MinorNum.",
            )
        self.major = int(match.group(1))
        self.minor = int(match.group(2))

    def _key(self):
        return (self.major, self.minor)

    def __eq__(self, other):
        if isinstance(other, str):
            other = APIVersion(other)
        return self._key() == other._key()

    def __lt__(self, other):
        if isinstance(other, str):
            other = APIVersion(other)
        return self._key() < other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        return f"{self.major}.{self.minor}"

    def __repr__(self):
        return f"APIVersion('{self}')"

    def matches(self, min_version, max_version=None):
        """Return whether this version lies in [min_version, max_version]; None is open."""
        if self < min_version:
            return False
        return max_version is None or self <= max_version


MIN_VERSION = APIVersion(MIN_VERSION_STRING)
MAX_VERSION = APIVersion(MAX_VERSION_STRING)


def requested_version_string(headers):
    """Return the version string a request asks for, or None when it asks for none.

    ``OpenStack-API-Version`` wins when it names the compute service: its
    comma-separated entries are read from the last one backwards and other
    services are skipped. Only without such an entry is
    ``X-OpenStack-Nova-API-Version`` read, whose last comma-separated value wins.
    """
    standard = _folded(headers, STANDARD_HEADER)
    if standard:
        for entry in reversed(standard.split(",")):
            parts = entry.strip().split(None, 1)
            if len(parts) == 2 and parts[0].lower() == SERVICE_TYPE:
                return parts[1].strip()

    legacy = _folded(headers, LEGACY_HEADER)
    if legacy is not None:
        return legacy.split(",")[-1].strip()
    return None


def _folded(headers, name):
    values = headers.getlist(name)
    if not values:
        return None
    return ",".join(value.strip() for value in values)


def resolve(headers):
    """Return the APIVersion of a request.

    Raises ApiError 400 for a malformed version and a VersionNotAcceptable
    (406) that carries the parsed version for one outside 2.1 to 2.95.
    """
    version_string = requested_version_string(headers)
    if version_string is None:
        return MIN_VERSION
    if version_string == "latest":
        return MAX_VERSION

    version = APIVersion(version_string)
    if not version.matches(MIN_VERSION, MAX_VERSION):
        raise VersionNotAcceptable(version)
    return version


class VersionNotAcceptable(faults.ApiError):
    """A well-formed microversion outside the supported range.

    Nova's response to it carries the requested version in its headers, so
    the error carries the version.
    """

    def __init__(self, version):
        super().__init__(
            406,
            f"Version {version} is not supported by the API. "
            f"Minimum is {MIN_VERSION} and maximum is {MAX_VERSION}.",
        )
        self.version = version


def response_headers(version):
    """Return the version headers Nova adds to every v2.1 response once a version is parsed."""
    return {
        STANDARD_HEADER: f"{SERVICE_TYPE} {version}",
        LEGACY_HEADER: str(version),
        "Vary": f"{STANDARD_HEADER}, {LEGACY_HEADER}",
    }
