"""Take payments through DOKU Checkout from a Django shop."""
