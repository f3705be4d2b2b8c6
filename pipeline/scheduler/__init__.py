"""The scheduler behind ``cur run`` (being split by job; see the modules of this package)."""

from .lease import *  # noqa: F401,F403
from .lease import _optional, _standing_by  # noqa: F401
