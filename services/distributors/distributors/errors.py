"""Exceptions the distributors service raises across RPC (``distributors.errors.X`` is a contract)."""
from common.errors import Conflict, Forbidden, InvalidInput, NotFound


class InvalidApplication(InvalidInput):
    pass


class ApplicationNotFound(NotFound):
    pass


class DistributorNotFound(NotFound):
    pass


class LocationNotFound(NotFound):
    pass


class CreditCodeTaken(Conflict):
    pass


class IllegalTransition(Conflict):
    pass


class DistributorNotActive(Forbidden):
    """A suspended or terminated distributor may read but not change anything."""
