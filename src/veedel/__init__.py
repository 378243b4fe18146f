"""veedel: data products for location-based community apps."""

from veedel.errors import InputError, VeedelError

__version__ = "0.1.0"

__all__ = ["InputError", "VeedelError", "__version__"]
