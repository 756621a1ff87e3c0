"""Webhooks: distributors' ERPs and storefronts are told of their events (Standard Webhooks)."""
