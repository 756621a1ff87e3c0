"""Exceptions the webhooks service raises across RPC (``webhooks.errors.X`` is a contract)."""
from common.errors import Conflict, Forbidden, InvalidInput, NotFound


class InvalidWebhook(InvalidInput):
    pass


class WebhookNotFound(NotFound):
    pass


class TooManyWebhooks(Conflict):
    pass


class PartyNotActive(Forbidden):
    pass
