"""Ordering: the Order aggregate (``model``), its tables (``repository``), placing and paying an order
(``checkout``: the one synchronous call to payment), and the commands and saga steps that move an
order afterwards (``handlers``)."""
