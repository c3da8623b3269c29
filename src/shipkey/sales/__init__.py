"""Sales: what a purchase's transition sets off, and the one read of a purchase every view uses.

- :mod:`~shipkey.sales.flows`: complete → deliver once, fail, refund and dispute → take back,
  dispute won, subscription renewal and end; the entry points for payments, the admin and CLI;
- :mod:`~shipkey.sales.delivery`: handing over the goods of a claimed purchase, and resending;
- :mod:`~shipkey.sales.queries`: a purchase with its links, licenses and access;
- :mod:`~shipkey.sales.routes`: the admin API for purchases.

``orders`` holds the transitions (each a conditional UPDATE that answers whether it moved the
purchase); this package decides what each one means for downloads, licensing, access and mail.
"""
