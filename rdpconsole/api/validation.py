"""JSON Schema validation with Nova's error messages (Draft 4, first error wins).

The message rules follow nova/api/validation/validators.py (28.0.0):
an error inside a nested value reads ``Invalid input for field/attribute
<last path element>. Value: <str of the value>. <jsonschema message>``
(``query parameters <first path element>`` for query strings), and an error
at the top level is the bare jsonschema message.
"""

import re

import jsonschema
from oslo_utils import timeutils

from rdpconsole.domain import exceptions
from rdpconsole.domain import servers as servers_domain

_DRAFT4_MINIMUM = jsonschema.Draft4Validator.VALIDATORS["minimum"]
_DRAFT4_MAXIMUM = jsonschema.Draft4Validator.VALIDATORS["maximum"]

_format_checker = jsonschema.FormatChecker(formats=())


@_format_checker.checks("regex")
def _is_regex(instance):
    """Accept a pattern that both Python's re, as in Nova, and RE2 compile.

    Filters run on RE2 (see domain.servers.compile_regex), which lacks
    backreferences and lookaround. Python's re raises OverflowError for a
    repeat count such as {99999999999} and RecursionError for deeply nested
    groups, where Nova returned 500.
    """
    if not instance or not isinstance(instance, str):
        return False
    try:
        re.compile(instance)
    except (re.error, OverflowError, RecursionError):
        return False
    try:
        servers_domain.compile_regex(instance)
    except servers_domain.InvalidRegex:
        return False
    return True


@_format_checker.checks("date-time")
def _is_date_time(instance):
    try:
        timeutils.parse_isotime(instance)
    except (ValueError, TypeError):
        return False
    return True


def _number_from_str(instance):
    try:
        return int(instance)
    except (ValueError, TypeError):
        try:
            return float(instance)
        except (ValueError, TypeError):
            return None


def _minimum(validator, minimum, instance, schema):
    # Nova compares numeric strings too ("0" against minimum 1), and skips others.
    number = _number_from_str(instance)
    if number is None:
        return
    yield from _DRAFT4_MINIMUM(validator, minimum, number, schema)


def _maximum(validator, maximum, instance, schema):
    number = _number_from_str(instance)
    if number is None:
        return
    yield from _DRAFT4_MAXIMUM(validator, maximum, number, schema)


def _min_length(validator, min_length, instance, schema):
    # jsonschema 4.21 reworded this to "should be non-empty"; Nova 28.0.0
    # shipped with jsonschema 4.19, whose wording clients saw.
    if validator.is_type(instance, "string") and len(instance) < min_length:
        yield jsonschema.ValidationError(f"{instance!r} is too short")


_Validator = jsonschema.validators.extend(
    jsonschema.Draft4Validator,
    {"minimum": _minimum, "maximum": _maximum, "minLength": _min_length},
)


# Validators by id() of their schema. The schemas are module constants that
# live as long as the process, and each validator keeps its schema alive.
_validators = {}


def _validator_for(schema):
    validator = _validators.get(id(schema))
    if validator is None or validator.schema is not schema:
        validator = _Validator(schema, format_checker=_format_checker)
        _validators[id(schema)] = validator
    return validator


# Request bodies that passed a schema, by (id(schema), raw body). Clients send
# the same few small bodies again and again, such as the console request
# {"remote_console": {"protocol": "rdp", "type": "rdp-html5"}}, and a lookup
# costs a small fraction of a jsonschema run. Only passes are stored: a
# failure is validated again for its message.
_passed_bodies = {}
MAX_REMEMBERED_BODIES = 256
MAX_REMEMBERED_BODY_BYTES = 1024


def validate_body(schema, body, raw_body):
    """Validate the request ``body``, decoded from the JSON ``raw_body``, like validate().

    A body of None (a request without Content-Length) is always validated.
    """
    if body is None:
        validate(schema, body)
        return
    key = (id(schema), raw_body)
    if _passed_bodies.get(key) is schema:
        return
    validate(schema, body)
    if len(raw_body) <= MAX_REMEMBERED_BODY_BYTES:
        if len(_passed_bodies) >= MAX_REMEMBERED_BODIES:
            _passed_bodies.clear()
        _passed_bodies[key] = schema


def validate(schema, target, is_body=True):
    """Validate ``target`` against ``schema``; raise ValidationError with Nova's message."""
    validator = _validator_for(schema)
    try:
        validator.validate(target)
    except jsonschema.ValidationError as error:
        raise exceptions.ValidationError(detail=_message(error, is_body)) from None
    except TypeError as error:
        raise exceptions.ValidationError(detail=str(error)) from None


def _message(error, is_body):
    if not error.path:
        return error.message
    if is_body:
        return (
            f"Invalid input for field/attribute {error.path.pop()}. "
            f"Value: {error.instance}. {error.message}"
        )
    return (
        f"Invalid input for query parameters {error.path.popleft()}. "
        f"Value: {error.instance}. {error.message}"
    )
