"""eadrcc: a disaster-response coordination hub."""

__version__ = "0.1.0"
