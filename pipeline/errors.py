"""The one root of expected failures, and its small tree.

The domain raises these; the shells map them: the CLI to an exit code and one
Russian line (``cli/errors.py``), the web application to a page or an API
status. The message of every ``CurError`` is for the user: Russian, naming
what to fix (a file and line, a field, a command to run), never a traceback.

    CurError
    ├── InvalidInput        a value the user gave is wrong (a month, a field, a file's line)
    ├── NotFound            the thing asked for does not exist (incident, source, token, version)
    ├── Refused             the request is understood but not allowed now (a state, a rule, a role)
    │   └── Busy            the same work is already running (one training at a time)
    ├── DatabaseError       the database cannot be used: unreachable, missing, schema outdated
    │   └── NotMigrated     (pipeline.context) the schema needs ``cur db upgrade``
    ├── ModelUnavailable    no classifier model to use
    └── ResourceError       a file, folder or network port the command needs cannot be used

Errors of the lower packages (``config.ConfigError``, ``nlp.classifier``'s
``ModelError``/``DataError``, ``collectors.sources.SourceUrlError``) cannot
derive from this root (they sit below ``pipeline/``); the shells map them too.
"""

from __future__ import annotations


class CurError(Exception):
    """An expected failure; ``str(e)`` is one Russian line for the user."""


class InvalidInput(CurError, ValueError):
    """A value given by the user (option, field, file line) is not acceptable."""


class NotFound(CurError, LookupError):
    """The incident, source, token, user or model version asked for does not exist."""


class Refused(CurError, ValueError):
    """The request is valid but not allowed in the current state or by the rules."""


class Busy(Refused):
    """The same job is already running (e.g. a model training); try again later."""


class DatabaseError(CurError):
    """The database cannot be used: unreachable, missing, or its schema needs an upgrade."""


class ModelUnavailable(CurError, RuntimeError):
    """No trained classifier model can be loaded."""


class ResourceError(CurError, OSError):
    """A file, a folder or a network port the command needs cannot be used."""


__all__ = ["Busy", "CurError", "DatabaseError", "InvalidInput", "ModelUnavailable", "NotFound", "Refused", "ResourceError"]
