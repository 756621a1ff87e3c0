"""Exceptions the fulfillment service raises across RPC (``fulfillment.errors.X`` is a contract)."""
from common.errors import Conflict, Forbidden, InvalidInput, NotFound, Unprocessable


class InvalidOrder(InvalidInput):
    pass


class InvalidStock(InvalidInput):
    pass


class LocationNotFound(NotFound):
    pass


class OrderNotFound(NotFound):
    pass


class AssignmentNotFound(NotFound):
    pass


class StockConflict(Conflict):
    pass


class IllegalAssignmentChange(Conflict):
    pass


class IllegalOrderChange(Conflict):
    pass


class DistributorNotActive(Forbidden):
    pass


class KeyReused(Unprocessable):
    title = "Unprocessable"


class StatementNotFound(NotFound):
    pass


class IllegalStatementChange(Conflict):
    pass
