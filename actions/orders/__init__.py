"""The orders store: tables, the rules about an order, the repository and the demo seed."""
