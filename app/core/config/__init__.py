"""The user's ``config.json``: its schema, loading with precise errors, safe writes.

Typical use::

    ensure_config(paths.config_file, demo=demo_command())  # first run only
    try:
        config = load_config(paths.config_file)
    except ConfigError as error:
        print(error)  # one "file:line:column: key.path: message" per problem
"""

from app.core.config.default import DEMO_SERVER_NAME, default_config_text, ensure_config
from app.core.config.load import ConfigError, ConfigIssue, load_config, parse_config
from app.core.config.schema import (
    SERVER_NAME_PATTERN,
    SERVER_NAME_RULE,
    Config,
    HttpConfig,
    RestartPolicy,
    ServerConfig,
    WatchConfig,
    shown_name,
)
from app.core.config.write import write_config_text

__all__ = [
    "DEMO_SERVER_NAME",
    "SERVER_NAME_PATTERN",
    "SERVER_NAME_RULE",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "HttpConfig",
    "RestartPolicy",
    "ServerConfig",
    "WatchConfig",
    "default_config_text",
    "ensure_config",
    "load_config",
    "parse_config",
    "shown_name",
    "write_config_text",
]
