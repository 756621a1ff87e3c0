"""The distributors service: applications and screening, approval, the distributor lifecycle and
locations."""
