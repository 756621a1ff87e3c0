"""Exceptions the catalog raises across RPC. Their module path (``catalog.errors.X``) is a contract."""
from common.errors import Conflict, InvalidInput, NotFound


class InvalidProduct(InvalidInput):
    pass


class ProductNotFound(NotFound):
    @classmethod
    def for_sku(cls, sku: str) -> "ProductNotFound":
        return cls(f"product {sku!r} not found")


class ProductExists(Conflict):
    pass


class IllegalStatusChange(Conflict):
    pass


ALL = (InvalidProduct, ProductNotFound, ProductExists, IllegalStatusChange)
