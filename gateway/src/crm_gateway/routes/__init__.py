"""Public REST routes: decode, call one upstream method, encode."""
