"""Dataset cards (TOML) shipped with tabinv as the package ``tabinv._cards``."""
