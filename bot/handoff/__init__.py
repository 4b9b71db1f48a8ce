"""Human consultant handoff: tickets, routing by topic, the two-way relay and service level (states.mmd)."""
