"""Load configuration files and check every value before a service starts."""

import os

from oslo_config import cfg
from oslo_config import types
from oslo_policy import opts as policy_opts

from rdpconsole.conf import opts as rdpconsole_opts

POLICY_FILE_DEFAULT = "policy.yaml"


class ConfigurationError(Exception):
    """A configuration file is unreadable or contains a value that is not allowed."""


def load(conf, config_files, args=None):
    """Parse ``config_files`` into ``conf`` and validate every option.

    Raises ConfigurationError with one line that names the file, the option,
    the value and what is allowed.
    """
    policy_opts.set_defaults(conf, policy_file=POLICY_FILE_DEFAULT)
    for path in config_files:
        if os.path.isdir(path):
            raise ConfigurationError(
                f"Configuration file {path} is a directory. Give the path of an INI "
                "file with --config-file, for example /etc/rdpconsole/rdpconsole.conf."
            )
    try:
        conf(
            args=list(args or []),
            project="rdpconsole",
            default_config_files=list(config_files),
            default_config_dirs=[],
            validate_default_values=True,
        )
    except cfg.ConfigFilesNotFoundError as error:
        raise ConfigurationError(
            f"Configuration file not found or not readable: {', '.join(error.config_files)}. "
            "Check the --config-file path and its permissions."
        ) from None
    except cfg.ConfigFileParseError as error:
        raise ConfigurationError(
            f"Configuration file {error.config_file} cannot be parsed: {error.msg}. "
            "Fix the INI syntax on that line."
        ) from None
    validate(conf, config_files)


def validate(conf, config_files):
    """Read every registered option once so that a bad value fails now, not mid-request."""
    groups = []
    for group, opts in rdpconsole_opts.list_opts():
        group_name = group if isinstance(group, str) else group.name
        groups.append((group_name, opts))

    for group_name, opts in groups:
        for opt in opts:
            try:
                if group_name in (None, "DEFAULT"):
                    getattr(conf, opt.dest)
                else:
                    getattr(getattr(conf, group_name), opt.dest)
            except (cfg.ConfigFileValueError, ValueError) as error:
                raise ConfigurationError(
                    _describe_bad_value(conf, config_files, group_name, opt, error)
                ) from None


def _describe_bad_value(conf, config_files, group_name, opt, error):
    section = group_name or "DEFAULT"
    raw_value, source = _find_raw_value(config_files, section, opt.name)
    where = f" in {source}" if source else ""
    shown = repr(raw_value) if raw_value is not None else "(default)"
    return (
        f"Invalid value {shown} for option [{section}] {opt.name}{where}: "
        f"{describe_allowed(opt)}."
    )


def _find_raw_value(config_files, section, name):
    """Return the last raw value of ``[section] name`` in the files, and that file."""
    found = (None, None)
    for path in config_files:
        sections = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except (OSError, cfg.ParseError):
            continue
        values = sections.get(section, {}).get(name)
        if values:
            found = (values[-1], path)
    return found


def describe_allowed(opt):
    """Describe in words which values an option accepts."""
    opt_type = opt.type
    if isinstance(opt_type, types.Boolean):
        return "expected true or false"
    if isinstance(opt_type, types.Port):
        return "expected a TCP port number from 0 to 65535"
    if isinstance(opt_type, types.Integer):
        low = opt_type.min
        high = opt_type.max
        if low is not None and high is not None:
            return f"expected an integer from {low} to {high}"
        if low is not None:
            return f"expected an integer of at least {low}"
        return "expected an integer"
    if isinstance(opt_type, types.URI):
        schemes = getattr(opt_type, "schemes", None)
        if schemes:
            return f"expected an absolute URL with scheme {' or '.join(schemes)}"
        return "expected an absolute URL"
    if isinstance(opt_type, types.HostAddress):
        return "expected an IPv4 or IPv6 address or a host name"
    if isinstance(opt_type, types.String) and opt_type.choices:
        return f"expected one of {', '.join(opt_type.choices)}"
    return f"expected {opt_type!r}"
