"""Status callbacks to tenants, signed as the Standard Webhooks specification says, delivered at least once."""
