"""HTTP plumbing under every route: dependencies, middleware, client addresses, throttles and
the fast lane."""
