"""`make faults`: the fault and soak suite (see bench/README.md, "The fault suite")."""
