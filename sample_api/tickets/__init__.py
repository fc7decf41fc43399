"""Orders of priced programs, with a filtered prefetch of the prices valid today."""
