"""Orders domain: carts, checkout, order lifecycle and sales reporting."""
