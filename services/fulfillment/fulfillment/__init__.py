"""The fulfillment service: distributor stock, orders from the brand's online channels,
nearest-distributor routing with atomic reservations, and the assignment workflow."""
