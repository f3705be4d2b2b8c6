"""Settings and shipped configuration (taxonomy, regions, deadline rules).

This package only loads and validates; it knows nothing of storage or the web.
"""

from .errors import ConfigError, ConfigIssue
from .loader import Configuration, RegionProfile, load_configuration, load_deadlines, load_region, load_taxonomy
from .schema import FIXED_SECTORS, OTHER_CATEGORY, Region, Sector, Taxonomy
from .settings import ENV_KEYS, Settings, VkToken, load_settings

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "Configuration",
    "ENV_KEYS",
    "FIXED_SECTORS",
    "OTHER_CATEGORY",
    "Region",
    "RegionProfile",
    "Sector",
    "Settings",
    "Taxonomy",
    "VkToken",
    "load_configuration",
    "load_deadlines",
    "load_region",
    "load_settings",
    "load_taxonomy",
]
