"""The pricing service: one retail price per SKU for every channel, distributor tiers and volume
breaks above a floor, green-channel promotions, quotes and parity monitoring."""
