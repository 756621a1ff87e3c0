"""Exceptions the pricing service raises across RPC (``pricing.errors.X`` is a contract)."""
from common.errors import Conflict, Forbidden, InvalidInput, NotFound


class InvalidPricing(InvalidInput):
    pass


class PriceNotFound(NotFound):
    pass


class ProductUnknown(NotFound):
    pass


class PromotionNotFound(NotFound):
    pass


class TierNotFound(NotFound):
    pass


class IllegalPromotionChange(Conflict):
    pass


class ProductNotPriceable(Conflict):
    pass


class DistributorMayNotQuote(Forbidden):
    pass
