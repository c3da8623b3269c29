"""The seller's pages at ``/admin``: dashboard, products, purchases, licenses, deliveries."""
